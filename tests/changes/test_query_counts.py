"""The RFC list and the CAB member's queue cost a fixed number of queries, whatever their
length (pinned in tests/query_counts.json)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.query_counts import assert_pinned, measure

pytestmark = pytest.mark.django_db


def test_the_rfc_list_has_a_fixed_query_count(submitted, make_user, cab):
    from itsm import roles

    client = APIClient()
    client.force_authenticate(make_user(roles.READ_ONLY))
    submitted()
    few = measure(client, "/api/v1/changes/")
    for _ in range(6):
        submitted()
    assert measure(client, "/api/v1/changes/") == few
    assert_pinned("api.changes.list", few)


def test_the_cab_queue_has_a_fixed_query_count(submitted, cab):
    client = APIClient()
    client.force_authenticate(cab[0])
    submitted()
    few = measure(client, "/api/v1/changes/awaiting-my-vote/")
    for _ in range(6):
        submitted()
    assert measure(client, "/api/v1/changes/awaiting-my-vote/") == few
    assert_pinned("api.changes.awaiting_my_vote", few)
