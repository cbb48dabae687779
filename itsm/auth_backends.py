"""Authentication backend that caches each user's permissions in the shared cache.

Django's ModelBackend reads a user's permissions with two queries on every request; API
clients pay them on each call. Here they are cached per user and generation; any change of
group membership, of a group's or user's permissions, or of a user row bumps the generation
(signals in itsm/apps.py), so a revoked role takes effect on the next request.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

from . import caching

PERMISSIONS_TTL = 300


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if (
            not caching.enabled()
            or obj is not None
            or not user_obj.is_active
            or user_obj.is_anonymous
        ):
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            key = f"perms:{user_obj.pk}:{caching.generation('permissions')}"
            perms = cache.get(key)
            if perms is None:
                perms = super().get_all_permissions(user_obj)
                cache.set(key, perms, PERMISSIONS_TTL)
            user_obj._perm_cache = perms
        return user_obj._perm_cache
