"""Sending notifications: e-mail over SMTP, webhooks over HTTP(S), chat-robot formats.

This package does the I/O, outside every transaction; what to send was decided and
written to the outbox by runtime/services/notify.py, and whether it went out is recorded
by runtime/services/outbox.py. `messages` and `formats` are pure (text and JSON in and
out); `smtp` and `http` talk to the network; `send` picks one for a message.
"""
