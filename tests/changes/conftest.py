"""Fixtures of change management: people in each role, CIs, RFCs at each step."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from changes import services
from changes.choices import ChangeType
from changes.models import ApprovalBody
from itsm import roles
from itsm.audit import ChangeContext
from tests.factories import CIFactory, CITypeFactory

NOW = timezone.now().replace(microsecond=0)


def ctx(user) -> ChangeContext:
    return ChangeContext(actor=user, source="api")


def restore_change_defaults() -> None:
    """The seeded CAB, ECAB, rules and templates (after a transactional test's flush)."""
    importlib.import_module("changes.migrations.0002_sequence_and_defaults").seed(apps, None)


@pytest.fixture
def requester(make_user):
    return make_user(roles.SERVICE_DESK, email="req@example.org")


@pytest.fixture
def manager(make_user):
    return make_user(roles.CHANGE_MANAGER, email="cm@example.org")


@pytest.fixture
def cab(make_user):
    """Three CAB members (the seeded CAB: quorum 2, more than half)."""
    return [make_user(roles.CAB_MEMBER, email=f"cab{i}@example.org") for i in range(3)]


@pytest.fixture
def cab_body(db):
    return ApprovalBody.objects.get(name="Change Advisory Board")


@pytest.fixture
def ecab_body(db):
    return ApprovalBody.objects.get(name="Emergency CAB")


@pytest.fixture
def ci_type(db):
    return CITypeFactory(name="Box", slug="box")


@pytest.fixture
def make_ci(ci_type):
    def factory(name=None, **kw):
        kw.setdefault("ci_type", ci_type)
        if name:
            kw["name"] = name
        return CIFactory(**kw)

    return factory


@pytest.fixture
def make_change(requester, make_ci):
    """A draft normal change with plans on one new CI (or the CIs given)."""

    def factory(*, by=None, cis=None, **fields):
        fields.setdefault("change_type", ChangeType.NORMAL)
        fields.setdefault("implementation_plan", "Do it.")
        fields.setdefault("backout_plan", "Undo it.")
        fields.setdefault("planned_start", NOW + dt.timedelta(days=1))
        fields.setdefault("planned_end", NOW + dt.timedelta(days=1, hours=2))
        return services.change_create(
            context=ctx(by or requester),
            title=fields.pop("title", "Patch"),
            cis=cis if cis is not None else [make_ci()],
            **fields,
        )

    return factory


@pytest.fixture
def submitted(make_change, requester, cab):
    """A normal change submitted to the CAB (three members)."""

    def factory(**kw):
        change = make_change(**kw)
        return services.change_submit(context=ctx(kw.get("by") or requester), change=change)

    return factory


@pytest.fixture
def approved(submitted, cab):
    def factory(**kw):
        change = submitted(**kw)
        for member in cab[:2]:
            services.change_vote(context=ctx(member), change=change, decision="approve")
        change.refresh_from_db()
        return change

    return factory
