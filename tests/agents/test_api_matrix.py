"""Who may call each route of the agents API: generated from the router (tests/permission_matrix).

The signed endpoints (enrol, reports, policy, key rotation) authenticate agents, not users:
tests/agents/test_protocol.py and test_enrollment.py cover them.
"""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from agents.api.urls import router
from agents.choices import DiscrepancyKind, RejectionReason
from agents.discrepancies import discrepancy_open_or_refresh
from agents.models import AgentGroup, CIEvent, InventoryReport, SecurityEvent
from itsm import roles
from tests.agents.conftest import make_agent
from tests.factories import CIFactory, server_type
from tests.permission_matrix import Matrix

pytestmark = pytest.mark.django_db

_n = itertools.count(1)


def _ci():
    return CIFactory(ci_type=server_type(), attributes={"os": "Debian"})


def _report():
    return InventoryReport.objects.create(
        agent=make_agent(name=f"host-{next(_n)}").agent,
        body=b"{}",
        sha256="0" * 64,
        size=2,
        format="itsm-inventory/1",
        status="processed",
        ci=_ci(),
    )


def _event():
    return CIEvent.objects.create(
        ci=_ci(), at=timezone.now(), kind="failed_login", fingerprint=f"fp-{next(_n)}"
    )


def _discrepancy():
    item, _ = discrepancy_open_or_refresh(
        ci=_ci(), kind=DiscrepancyKind.STALE, key="stale", message="Stopped reporting", detail={}
    )
    return item


def _security_event():
    return SecurityEvent.objects.create(
        reason=RejectionReason.choices[0][0], path="/api/v1/agents/reports/", status_code=401
    )


MATRIX = Matrix(
    router=router,
    prefix="/api/v1/agents/",
    objects={
        "agent": lambda: make_agent(name=f"host-{next(_n)}").agent,
        "agentgroup": lambda: AgentGroup.objects.create(name=f"policy-{next(_n)}"),
        "inventoryreport": _report,
        "cievent": _event,
        "discrepancy": _discrepancy,
        "securityevent": _security_event,
    },
    writers={roles.CMDB_MANAGER},
    # Enrolment secrets and the security log are not part of "read everything".
    readers={
        "enrollmenttoken": {roles.CMDB_MANAGER},
        "securityevent": {roles.CMDB_MANAGER},
    },
)


@pytest.mark.parametrize("caller", MATRIX.callers)
@pytest.mark.parametrize("route", MATRIX.routes, ids=str)
def test_permission_matrix(route, caller, make_user):
    MATRIX.check(route, caller, make_user)


def test_the_matrix_covers_the_workflow_actions():
    names = {str(route) for route in MATRIX.routes}
    assert {"POST agent.revoke", "POST discrepancy.close", "PATCH agentgroup.partial_update"} <= (
        names
    )
