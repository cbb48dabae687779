"""Token authentication with the user (and their permissions) cached in the shared cache.

Each API call otherwise reads the token and its user, then the user's permissions: three
queries before any work. Cached entries are keyed by the permissions generation, which any
change to users, groups, permissions or tokens bumps (signals in itsm/apps.py).
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication

from . import caching

TOKEN_TTL = 300


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        if not caching.enabled():
            return super().authenticate_credentials(key)
        cache_key = f"token:{caching.generation('permissions')}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"
        cached = cache.get(cache_key)
        if cached is not None:
            return cached
        user, token = super().authenticate_credentials(key)
        user.get_all_permissions()  # fills user._perm_cache, cached with the user
        cache.set(cache_key, (user, token), TOKEN_TTL)
        return user, token
