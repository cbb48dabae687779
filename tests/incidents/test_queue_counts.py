"""Fixed query counts of the hot service-desk pages, whatever the number of rows: the queue,
the incident page, the portal's ticket list. Pinned in tests/query_counts.json."""

from __future__ import annotations

import pytest

from incidents import services
from tests.factories import CIFactory, server_type
from tests.query_counts import assert_pinned, measure

from .conftest import ctx

pytestmark = pytest.mark.django_db


def fill(agent, caller, n: int, start: int = 0) -> list:
    group = agent.groups.get()
    made = []
    for i in range(start, start + n):
        ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"}, name=f"pc-{i}")
        incident = services.incident_open(
            context=ctx(agent),
            title=f"Broken {i}",
            caller=caller,
            cis=[ci],
            assignee=agent,
            assignment_group=group,
        )
        services.worklog_add(context=ctx(agent), incident=incident, note=f"note {i}", minutes=5)
        made.append(incident)
    return made


@pytest.mark.parametrize("queue", ["mine", "team", "all"])
def test_queue_page_has_a_fixed_number_of_queries(client, agent, end_user, queue):
    client.force_login(agent)
    url = f"/incidents/?queue={queue}&priority=3&q=Broken"
    fill(agent, end_user, 2)
    few = measure(client, url)
    fill(agent, end_user, 5, start=2)
    assert measure(client, url) == few
    assert_pinned(f"incidents.queue.{queue}", few)


def test_queue_counts_have_a_fixed_number_of_queries(client, agent, end_user):
    client.force_login(agent)
    fill(agent, end_user, 1)
    few = measure(client, "/incidents/counts/")
    fill(agent, end_user, 3, start=1)
    assert measure(client, "/incidents/counts/") == few
    assert_pinned("incidents.queue.counts", few)


def test_incident_page_has_a_fixed_number_of_queries(client, agent, end_user):
    client.force_login(agent)
    first = fill(agent, end_user, 1)[0]
    few = measure(client, f"/incidents/{first.pk}/")
    other = fill(agent, end_user, 3, start=1)
    for incident in other:
        services.incident_link(context=ctx(agent), incident=first, related=incident)
        services.worklog_add(context=ctx(agent), incident=first, note="more", minutes=1)
    first.cis.add(*[ci for i in other for ci in i.cis.all()])
    assert measure(client, f"/incidents/{first.pk}/") == few
    assert_pinned("incidents.detail", few)


def test_portal_ticket_list_has_a_fixed_number_of_queries(client, agent, end_user):
    client.force_login(end_user)
    fill(agent, end_user, 1)
    few = measure(client, "/portal/tickets/")
    fill(agent, end_user, 4, start=1)
    assert measure(client, "/portal/tickets/") == few
    assert_pinned("incidents.portal.tickets", few)
