"""The stored form of a random secret handed to someone: an API token, a portal follow
link, a survey link, a password-reset link. Only this digest is kept; the secret itself
is shown once.

SHA-256 without salt or stretching: the secrets are 256 random bits, which nobody can
guess their way through, unlike a password (see `accounts.hash_password`).
"""

from __future__ import annotations

import hashlib


def secret_digest(secret: str) -> str:
    """The hex SHA-256 of `secret`: what a lookup by secret compares with."""
    return hashlib.sha256(secret.encode()).hexdigest()
