"""Post-implementation review, suspected incidents, metrics, e-mail, and the services releases
call (issue 9 items 6, 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from changes import selectors, services
from changes.choices import ChangeStatus, ChangeType
from changes.models import Change
from incidents.models import Incident
from incidents.services import incident_open
from itsm import roles
from itsm.audit import ChangeContext, entries_for
from itsm.exceptions import ApplicationError, PermissionDeniedError
from tests.changes.conftest import ctx
from tests.factories import link

pytestmark = pytest.mark.django_db

SYSTEM = ChangeContext(source="system", source_ref="tests")


def implemented(approved, manager, **kw):
    change = approved(**kw)
    return services.change_implement(context=ctx(manager), change=change)


def test_suspected_incidents_on_the_cis_and_their_impact_during_and_after(
    approved, manager, make_ci
):
    server, app, elsewhere = make_ci("server"), make_ci("app"), make_ci("elsewhere")
    link(server, app, "hosts")
    change = implemented(approved, manager, cis=[server])
    during = incident_open(context=SYSTEM, title="Slow", cis=[app])
    after = incident_open(context=SYSTEM, title="Down", cis=[server])
    too_late = incident_open(context=SYSTEM, title="Much later", cis=[server])
    before = incident_open(context=SYSTEM, title="Before", cis=[server])
    unrelated = incident_open(context=SYSTEM, title="Other", cis=[elsewhere])
    start, end = change.planned_start, change.planned_end
    for incident, at in [
        (during, start + dt.timedelta(minutes=30)),
        (after, end + dt.timedelta(hours=20)),
        (too_late, end + dt.timedelta(hours=60)),
        (before, start - dt.timedelta(hours=1)),
        (unrelated, start + dt.timedelta(minutes=30)),
    ]:
        Incident.objects.filter(pk=incident.pk).update(created=at)
    assert list(selectors.suspected_incidents(change)) == [during, after]
    assert list(selectors.suspected_incidents(change, hours=100)) == [during, after, too_late]


def test_review_links_caused_incidents_then_close(approved, manager, make_ci):
    change = implemented(approved, manager)
    incident = incident_open(context=SYSTEM, title="Broken", cis=list(change.cis.all()))
    change = services.change_review(
        context=ctx(manager), change=change, outcome="backed_out", incidents=[incident]
    )
    assert change.status == ChangeStatus.REVIEWED
    assert list(change.caused_incidents.all()) == [incident]
    with pytest.raises(ApplicationError):
        services.change_review(context=ctx(manager), change=change, outcome="successful")
    services.change_close(context=ctx(manager), change=change)
    assert Change.objects.get(pk=change.pk).status == ChangeStatus.CLOSED


def test_review_refuses_unknown_incidents_and_outcomes(approved, manager):
    change = implemented(approved, manager)
    with pytest.raises(ApplicationError):
        services.change_review(context=ctx(manager), change=change, outcome="great")
    with pytest.raises(ApplicationError):
        services.change_review(
            context=ctx(manager), change=change, outcome="failed", incidents=[999]
        )
    assert Change.objects.get(pk=change.pk).status == ChangeStatus.IMPLEMENTED


def test_metrics(approved, submitted, manager, make_ci):
    start = timezone.now() - dt.timedelta(days=2)
    good = implemented(approved, manager)
    bad = implemented(approved, manager)
    emergency = submitted(change_type=ChangeType.EMERGENCY)
    submitted()
    Change.objects.filter(pk=good.pk).update(
        submitted_at=good.implemented_at - dt.timedelta(hours=10)
    )
    Change.objects.filter(pk=bad.pk).update(
        submitted_at=bad.implemented_at - dt.timedelta(hours=30)
    )
    services.change_review(context=ctx(manager), change=good, outcome="successful")
    incident = incident_open(context=SYSTEM, title="Oops")
    services.change_review(context=ctx(manager), change=bad, outcome="failed", incidents=[incident])
    metrics = selectors.change_metrics(start, timezone.now() + dt.timedelta(minutes=1))
    assert metrics["submitted"] == 4
    assert metrics["emergency"] == 1 and metrics["emergency_ratio"] == 0.25
    assert metrics["reviewed"] == 2 and metrics["success_rate"] == 0.5
    assert metrics["mean_lead_time_hours"] == 20.0
    assert metrics["causing_incidents"] == 1
    assert emergency.change_type == ChangeType.EMERGENCY


def test_releases_implement_log_and_review_through_services(approved, make_user):
    release_manager = make_user(roles.RELEASE_MANAGER)
    change = approved()
    services.change_log_event(
        context=ChangeContext(actor=release_manager, source="release", source_ref="REL-000001"),
        change=change,
        message="Wave 1 deployed",
        data={"percent": 50},
    )
    change = services.change_implement(context=ctx(release_manager), change=change, note="REL-1")
    change = services.change_review(
        context=ctx(release_manager), change=change, outcome="successful"
    )
    event = entries_for(change).filter(kind="event").get()
    assert event.changes == {"message": "Wave 1 deployed", "data": {"percent": 50}}
    assert event.source_ref == "REL-000001"
    assert change.status == ChangeStatus.REVIEWED
    with pytest.raises(PermissionDeniedError):
        services.change_close(context=ctx(release_manager), change=change)


def test_a_cab_member_may_not_implement(approved, cab):
    with pytest.raises(PermissionDeniedError):
        services.change_implement(context=ctx(cab[0]), change=approved())


def test_emails_go_to_whoever_acts_next(
    make_change, requester, cab, manager, make_user, django_capture_on_commit_callbacks
):
    implementer = make_user(roles.RELEASE_MANAGER, email="impl@example.org")
    change = make_change()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_submit(context=ctx(requester), change=change)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in cab)
    assert change.number in mail.outbox[0].subject
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_vote(context=ctx(cab[0]), change=change, decision="approve")
    assert mail.outbox == []  # nobody has to act yet
    with django_capture_on_commit_callbacks(execute=True):
        services.change_vote(context=ctx(cab[1]), change=change, decision="approve")
    assert [m.to for m in mail.outbox] == [[requester.email]]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_schedule(
            context=ctx(manager),
            change=change,
            start=change.planned_start,
            end=change.planned_end,
            implementer=implementer,
        )
    assert [m.to for m in mail.outbox] == [[implementer.email]]


def test_nothing_is_sent_when_the_transaction_rolls_back(
    make_change, requester, cab, django_capture_on_commit_callbacks
):
    change = make_change(backout_plan="")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError):
        services.change_submit(context=ctx(requester), change=change)
    assert mail.outbox == []


def test_changes_ready_for_release(approved, submitted):
    ready, waiting = approved(), submitted()
    assert list(selectors.changes_ready_for_release()) == [ready]
    assert waiting.status == ChangeStatus.SUBMITTED


def test_an_rfc_without_a_window_is_submitted_and_mailed(
    make_change, requester, cab, django_capture_on_commit_callbacks
):
    """The e-mail of a submitted RFC does not depend on its window (a draft may have none)."""
    change = make_change(planned_start=None, planned_end=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_submit(context=ctx(requester), change=change)
    assert len(mail.outbox) == len(cab)
    assert change.number in mail.outbox[0].subject
