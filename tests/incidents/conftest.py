"""Fixtures of the service-desk tests: people in each role, incidents made through the
services, a frozen clock (tests.clock)."""

from __future__ import annotations

import pytest

from cmdb.history import ChangeContext
from incidents import services, sla_services
from itsm import roles
from tests.clock import frozen  # noqa: F401 (the service desk tests import it from here)

SYSTEM = ChangeContext(source="system", source_ref="tests")


@pytest.fixture(autouse=True)
def _fresh_calendars():
    sla_services.forget_calendars()
    yield
    sla_services.forget_calendars()


@pytest.fixture
def agent(make_user):
    return make_user(roles.SERVICE_DESK, email="agent@example.org")


@pytest.fixture
def agent2(make_user):
    return make_user(roles.SERVICE_DESK, email="agent2@example.org")


@pytest.fixture
def end_user(make_user):
    return make_user(roles.END_USER, email="enduser@example.org")


@pytest.fixture
def other_end_user(make_user):
    return make_user(roles.END_USER, email="other@example.org")


def ctx(user=None, **kwargs) -> ChangeContext:
    return ChangeContext(actor=user, **kwargs) if user is not None else SYSTEM


@pytest.fixture
def make_incident(db):
    def factory(*, user=None, **kwargs):
        kwargs.setdefault("title", "Mail does not start")
        return services.incident_open(context=ctx(user), **kwargs)

    return factory
