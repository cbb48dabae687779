import pytest

from incidents import services
from incidents.choices import IncidentStatus

from .conftest import ctx

pytestmark = pytest.mark.django_db


def test_open_assign_resolve_close(make_incident, agent):
    incident = make_incident(user=agent, impact="high", urgency="high")
    assert incident.number.startswith("INC-")
    assert incident.priority == 1
    assert incident.resolve_due is not None
    incident = services.incident_assign(context=ctx(agent), incident=incident, assignee=agent)
    assert incident.status == IncidentStatus.ASSIGNED
    incident = services.incident_start(context=ctx(agent), incident=incident)
    incident = services.incident_hold(context=ctx(agent), incident=incident, reason="waiting")
    incident = services.incident_resume(context=ctx(agent), incident=incident)
    incident = services.incident_resolve(
        context=ctx(agent), incident=incident, resolution_method="fix", resolution="done"
    )
    incident = services.incident_close(context=ctx(agent), incident=incident)
    assert incident.status == IncidentStatus.CLOSED
