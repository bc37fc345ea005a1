"""ERP users and roles as duesflow sees them: a pseudonymous key for places that must not hold personal data
(search attributes, Redis channel names), and who may see or change whose jobs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass


def normalise_user(user: str) -> str:
    """ERP user ids are e-mail addresses or "Administrator"; the ERP treats them case-insensitively."""
    if not isinstance(user, str) or not user.strip():
        raise ValueError("user must be the ERP user (e.g. the user's e-mail address), got an empty value")
    return user.strip().lower()


def user_key(user: str, secret: str) -> str:
    """Keyed hash of the user id: stable, so an operator can search for a user's work, and not reversible by
    guessing e-mail addresses without the secret (a plain hash would be)."""
    digest = hmac.new(secret.encode(), normalise_user(user).encode(), hashlib.sha256).hexdigest()
    return f"u-{digest[:20]}"


class NotAllowed(PermissionError):
    """The caller may not see or change this job; the message says why and what would allow it."""


@dataclass(frozen=True)
class Caller:
    user: str
    roles: frozenset[str]

    @classmethod
    def of(cls, user: str, roles: Iterable[str] = ()) -> Caller:
        if isinstance(roles, str):
            raise ValueError("roles must be a list of ERP role names, got a single string")
        return cls(normalise_user(user), frozenset(r.strip() for r in roles if r and r.strip()))

    def is_admin(self, admin_roles: Iterable[str]) -> bool:
        return bool(self.roles & set(admin_roles))
