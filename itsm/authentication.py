"""Token authentication against the hashed `ApiToken` table (`Authorization: Token <key>`).

Every call looks the token and its user up in the database (one indexed query), so a user
deactivated by any path — the admin, a queryset `update()`, SQL — or a revoked or expired
token is refused on the very next request. Nothing about a credential is cached; the user's
permissions are, keyed by a generation that changes with them (itsm/auth_backends.py).
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, checked against the stored SHA-256 of the key."""

    def authenticate_credentials(self, key):
        from . import tokens  # not at import time: DRF imports this class while it loads

        token = tokens.token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.expires is not None and token.expires <= now:
            raise exceptions.AuthenticationFailed("Token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        tokens.api_token_mark_used(token, now=now)
        return token.user, token


#: The former name, still accepted in settings.
CachedTokenAuthentication = ApiTokenAuthentication
