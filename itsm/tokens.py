"""API tokens: services (create, revoke), selectors, and the look-up used by authentication.

A key is shown once, when it is created; the database keeps its SHA-256 only. Keys are long
random secrets, so an unsalted hash is enough (nobody can brute-force 160 random bits), and
it lets the authentication find the token with one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .exceptions import ApplicationError, PermissionDeniedError
from .models import ApiToken

security_log = logging.getLogger("itsm.security")

#: `last_used` is written at most this often per token: an API call stays a read.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
NAME_MAX_LENGTH: int = ApiToken._meta.get_field("name").max_length or 100


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256 in hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    """A new random key, in the shape of Django REST framework's (40 hex characters)."""
    return secrets.token_hex(20)


# --- selectors ----------------------------------------------------------------------------


def tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """A user's tokens, newest first."""
    return ApiToken.objects.filter(user=user).order_by("-created", "-pk")


def token_for_key(key: str) -> ApiToken | None:
    """The token a key belongs to, with its user (one query), or None."""
    from . import sql

    return sql.token_with_user(hash_key(key))


# --- services -----------------------------------------------------------------------------


@transaction.atomic
def api_token_create(
    *,
    actor: User,
    user: User,
    name: str,
    expires: dt.datetime | None = None,
    key: str | None = None,
) -> tuple[str, ApiToken]:
    """Create a token for `user`; returns the key (shown once, never stored) and the record.

    Users create their own tokens; a superuser may create one for anybody. `key` is for the
    migration of existing keys and tests; normally a fresh random key is made.
    """
    if actor.pk != user.pk and not actor.is_superuser:
        raise PermissionDeniedError("You may create API tokens only for yourself.")
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH or "\x00" in name:
        raise ApplicationError(
            "A token needs a name.", extra={"name": [f"1 to {NAME_MAX_LENGTH} characters."]}
        )
    if expires is not None and expires <= timezone.now():
        raise ApplicationError(
            "The expiry must lie in the future.", extra={"expires": ["Must lie in the future."]}
        )
    key = key or new_key()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_key(key), prefix=key[:8], expires=expires
    )
    security_log.info("API token %s (%s) created for user %s", token.pk, token.prefix, user.pk)
    return key, token


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int) -> None:
    """Revoke (delete) a token: the actor's own, or anybody's for a superuser."""
    tokens = ApiToken.objects.select_for_update().filter(pk=token_id)
    if not actor.is_superuser:
        tokens = tokens.filter(user=actor)
    token = tokens.first()
    if token is None:
        raise ApplicationError("No such token.", extra={"token": ["Not found."]})
    token.delete()
    security_log.info("API token %s (%s) revoked by user %s", token_id, token.prefix, actor.pk)


def api_token_mark_used(token: ApiToken, *, now: dt.datetime | None = None) -> None:
    """Record that the token was used, at most once per `LAST_USED_RESOLUTION` (one UPDATE
    that touches no row when the recorded time is recent enough)."""
    now = now or timezone.now()
    if token.last_used is not None and now - token.last_used < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(
        Q(last_used__isnull=True) | Q(last_used__lt=now - LAST_USED_RESOLUTION), pk=token.pk
    ).update(last_used=now)
    token.last_used = now
