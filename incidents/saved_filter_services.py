"""Writes of a user's saved queue filters (personal preferences: no audit entry)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.contrib.auth.models import User
from django.db import transaction

from itsm.exceptions import ApplicationError

from .models import SavedFilter

MAX_FILTERS = 50


@transaction.atomic
def saved_filter_save(*, owner: User, name: str, query: str) -> SavedFilter:
    """Save `query` (a queue query string, without its page) as `name` for `owner`,
    replacing a filter of the same name."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("Give the filter a name.")
    pairs = [(k, v) for k, v in parse_qsl(query or "", keep_blank_values=False) if k != "page"]
    existing = SavedFilter.objects.select_for_update().filter(owner=owner, name=name).first()
    if existing is None and SavedFilter.objects.filter(owner=owner).count() >= MAX_FILTERS:
        raise ApplicationError(f"You have {MAX_FILTERS} saved filters: delete one first.")
    if existing is not None:
        existing.query = urlencode(pairs)[:1000]
        existing.save(update_fields=["query"])
        return existing
    return SavedFilter.objects.create(owner=owner, name=name[:80], query=urlencode(pairs)[:1000])


@transaction.atomic
def saved_filter_delete(*, owner: User, pk: int) -> bool:
    """Delete the owner's filter `pk`; False when they have none of that id."""
    deleted, _ = SavedFilter.objects.filter(owner=owner, pk=pk).delete()
    return bool(deleted)
