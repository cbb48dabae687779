"""Selectors the help-desk pages build on: queues in SLA order with a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import selectors, services
from incidents.models import Incident
from tests.factories import CIFactory
from tests.query_counts import assert_pinned

from .conftest import SYSTEM, ctx

pytestmark = pytest.mark.django_db


def _render(queryset) -> list[tuple]:
    return [
        (
            i.number,
            i.caller and i.caller.username,
            i.assignee and i.assignee.username,
            i.assignment_group and i.assignment_group.name,
            i.department and i.department.name,
            [ci.name for ci in i.cis.all()],
        )
        for i in queryset
    ]


def test_the_queue_runs_a_fixed_number_of_queries(agent, make_user):
    def add(n):
        for _ in range(n):
            services.incident_open(
                context=SYSTEM, title="q", caller=make_user(None), assignee=agent,
                cis=[CIFactory(), CIFactory()],
            )  # fmt: skip

    add(2)
    _render(selectors.incident_queue(user=agent, scope="mine"))  # the user's permissions
    with CaptureQueriesContext(connection) as few:
        _render(selectors.incident_queue(user=agent, scope="mine"))
    add(8)
    with CaptureQueriesContext(connection) as many:
        rows = _render(selectors.incident_queue(user=agent, scope="mine"))
    assert len(rows) == 10
    assert len(many.captured_queries) == len(few.captured_queries)
    assert_pinned("incidents.queue_mine", len(many.captured_queries))


def test_the_queue_puts_breached_then_nearest_due_first(agent):
    def log(title, **kwargs):
        return services.incident_open(context=ctx(agent), title=title, assignee=agent, **kwargs)

    later = log("later", impact="low", urgency="low")
    sooner = log("sooner", impact="high", urgency="high")
    breached = log("breached", impact="low", urgency="low")
    Incident.objects.filter(pk=breached.pk).update(sla_breached=True)
    no_sla = log("no sla")
    Incident.objects.filter(pk=no_sla.pk).update(resolve_due=None)
    resolved = log("done")
    services.incident_resolve(
        context=ctx(agent), incident=resolved, resolution_method="fix", resolution="ok"
    )
    order = [i.title for i in selectors.incident_queue(user=agent, scope="mine")]
    assert order == ["breached", "sooner", "later", "no sla"]
    assert later.resolve_due > sooner.resolve_due
    with pytest.raises(ValueError):
        selectors.incident_queue(user=agent, scope="everything")


def test_team_queue(agent, agent2):
    from django.contrib.auth.models import Group

    team = Group.objects.create(name="Second level")
    agent2.groups.add(team)
    incident = services.incident_open(context=ctx(agent), title="x", assignment_group=team)
    assert list(selectors.incident_queue(user=agent2, scope="team")) == [incident]
    assert list(selectors.incident_queue(user=agent, scope="team")) == []


def test_time_left_filters(agent):
    from django.utils import timezone

    from incidents.templatetags import incidents_sla as f

    incident = services.incident_open(context=ctx(agent), title="x", impact="high", urgency="high")
    assert f.duration(3 * 86400 + 7200) == "3 d 2 h"
    assert f.duration(-125 * 60) == "2 h 5 min"
    assert f.resolve_left(incident)
    assert f.sla_state(incident) in ("ok", "warning")
    Incident.objects.filter(pk=incident.pk).update(
        resolve_due=timezone.now() - dt.timedelta(minutes=5)
    )
    late = Incident.objects.get(pk=incident.pk)
    assert f.resolve_left(late).startswith("overdue")
    assert f.sla_state(late) == "breached"
