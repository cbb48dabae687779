"""Tables of the core app: API tokens.

The module also makes Django count `itsm` as an app with models, so it gets the post_migrate
signal on which the role groups' permissions are synced (see itsm/roles.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A named API key of a user (`Authorization: Token <key>`). Only the key's SHA-256 is
    stored; the key itself is shown once, when the token is created. A user may hold several;
    each may expire, and records when it was last used (at most once a minute)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name="user",
    )
    name = models.CharField("name", max_length=100)
    key_hash = models.CharField("key hash", max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        "prefix", max_length=12, editable=False, help_text="First characters, to recognise it."
    )
    created = models.DateTimeField("created", auto_now_add=True)
    expires = models.DateTimeField("expires", null=True, blank=True)
    last_used = models.DateTimeField("last used", null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
