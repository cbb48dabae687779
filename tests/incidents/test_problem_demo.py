"""The problem-management demo step: a problem with a published known error, idempotent."""

from __future__ import annotations

import pytest

from incidents import problem_demo, services
from incidents.models import IncidentDailyCount, KnownError, Problem

from .problem_factories import SYSTEM

pytestmark = pytest.mark.django_db


def test_the_demo_step_is_idempotent():
    services.incident_open(context=SYSTEM, title="VPN drops every few minutes", category="Network")
    first = problem_demo.seed_demo_step()
    problem = Problem.objects.get()
    assert problem.status == "known_error" and problem.incidents.count() == 1
    assert KnownError.objects.filter(published=True).count() == 2
    assert IncidentDailyCount.objects.filter(dimension="category", value="Network").exists()
    second = problem_demo.seed_demo_step()
    assert [row[1] for row in first] == [1, 2] and [row[1] for row in second] == [0, 0]
    assert Problem.objects.count() == 1 and KnownError.objects.count() == 2
