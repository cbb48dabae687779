"""Each statement of itsm/sql.py against the ORM's answer (COPY exists on PostgreSQL only)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from itsm import sql
from itsm.audit import ChangeContext, new
from itsm.models import AuditEntry
from tests.sql_helpers import after

pytestmark = pytest.mark.django_db


def test_copy_audit_entries_matches_bulk_create(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's; bulk_create is the path elsewhere")
    user = make_user(None)
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    contexts = [
        ChangeContext(
            actor=user, source="api", source_ref="RFC-1", reason="tab\there\nnewline", at=at
        ),
        ChangeContext(source="agent", source_ref="report 7", at=at),
    ]
    changes = [
        {"name": {"old": "a\\b", "new": "é ' \" ,"}},
        {"attributes": {"old": None, "new": {"n": [1, 2.5, True], "when": "2026-01-02"}}},
    ]

    def build():
        return [
            new(obj=user, kind="updated", changes=c, context=ctx)
            for ctx in contexts
            for c in changes
        ]

    columns = [*sql.AUDIT_COPY_COLUMNS]

    def stored():
        return list(AuditEntry.objects.order_by("kind", "source", "id").values_list(*columns))

    def raw():
        sql.copy_audit_entries(build())
        return stored()

    def orm():
        AuditEntry.objects.bulk_create(build())
        return stored()

    assert after(raw) == after(orm)
    assert len(after(raw)) == 4


def test_ping_answers():
    sql.ping()


def test_token_with_user_is_the_orm_answer(django_user_model):
    from itsm.models import ApiToken
    from itsm.tokens import api_token_create, hash_key

    user = django_user_model.objects.create_user("script", first_name="Build", is_staff=True)
    key, _ = api_token_create(actor=user, user=user, name="ci")
    orm = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
    raw = sql.token_with_user(hash_key(key))
    assert raw is not None and orm is not None
    for field in ApiToken._meta.concrete_fields:
        assert getattr(raw, field.attname) == getattr(orm, field.attname), field.name
    for field in django_user_model._meta.concrete_fields:
        assert getattr(raw.user, field.attname) == getattr(orm.user, field.attname), field.name
    assert raw.user.has_usable_password() == orm.user.has_usable_password()
    assert sql.token_with_user(hash_key("not-a-key")) is None
