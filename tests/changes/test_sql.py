"""changes/sql.py (PostgreSQL's one walk from many CIs) against the CMDB's walk from each CI,
united in Python — the SQLite path — on the same random graph with cycles."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from changes import impact, sql
from changes.models import ChangeImpact
from cmdb import sql as cmdb_sql
from tests.factories import CIFactory, RelationshipTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def graph():
    rng = random.Random(9)
    cis = [CIFactory(name=f"g-{i:02d}") for i in range(40)]
    rel_type = RelationshipTypeFactory(slug="feeds")
    from cmdb.models import Relationship

    pairs = {(rng.randrange(40), rng.randrange(40)) for _ in range(90)}
    Relationship.objects.bulk_create(
        Relationship(source=cis[a], target=cis[b], type=rel_type) for a, b in pairs if a != b
    )
    return cis


def per_root_union(roots, depth):
    depths = {}
    for root in roots:
        for row in cmdb_sql.impact_rows(root_id=root, downstream=True, depth=depth, cap=10_000):
            if row[0] == "n":
                depths[row[1]] = min(depths.get(row[1], depth + 1), row[2])
    return depths


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 6])
def test_one_walk_from_many_equals_the_union_of_walks(graph, depth):
    if connection.vendor != "postgresql":
        pytest.skip("the many-roots walk is PostgreSQL's")
    roots = [graph[i].pk for i in (0, 7, 13, 21, 39)]
    rows = sql.ripple_rows(root_ids=roots, depth=depth, cap=10_000)
    assert {pk: d for pk, d, _ in rows} == per_root_union(roots, depth)
    types = {ci.pk: ci.ci_type_id for ci in graph}
    assert all(types[pk] == type_id for pk, _, type_id in rows)


def test_the_ripple_and_the_stored_rows_agree_on_both_databases(graph, make_change):
    roots = [graph[i].pk for i in (2, 5, 30)]
    expected = per_root_union(roots, impact.IMPACT_DEPTH)
    assert impact.ripple(roots).depths == expected
    change = make_change(cis=[])
    summary = impact.store_ripple(change.pk, roots)
    stored = dict(ChangeImpact.objects.filter(change=change).values_list("ci_id", "depth"))
    assert stored == expected
    assert summary.reached == sum(1 for d in expected.values() if d > 0)


def test_the_cap_keeps_the_nearest(graph, monkeypatch):
    monkeypatch.setattr(impact, "MAX_RIPPLE", 5)
    roots = [graph[0].pk, graph[1].pk]
    result = impact.ripple(roots)
    assert result.truncated and len(result.depths) == 5
    assert all(result.depths[r] == 0 for r in roots)
