"""The service layer: every state change of the system, each in one transaction.

Views, the REST API, the CLI and the worker parse input, call a service and render the
result; no business rule lives in them.
"""
