"""The browser designer: where administrators build and change ticket types.

A Flask blueprint over the runtime's services (definitions, templates, form previews),
never its tables: list the ticket types and the bundled templates (install, upgrade,
clone), start a new type, and edit a type's definition text with the engine's located
problems, its outline, its changes against the published version and a live preview of
its intake form, then save it as a draft or publish it as the next version.
"""

from designer.views import bp

__all__ = ["bp"]
