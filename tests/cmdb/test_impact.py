"""Impact analysis: depth, direction, cycles, edges."""

import pytest

from cmdb.selectors import impact_analysis
from tests.factories import CIFactory, link

pytestmark = pytest.mark.django_db


@pytest.fixture
def graph():
    """db → app → service, app → web, with a cycle service → db; and an unrelated CI."""
    cis = {name: CIFactory(name=name) for name in ["db", "app", "service", "web", "lonely"]}
    link(cis["db"], cis["app"])
    link(cis["app"], cis["service"])
    link(cis["app"], cis["web"])
    link(cis["service"], cis["db"])
    return cis


def names_by_depth(result):
    return {node["name"]: node["depth"] for node in result.nodes}


def test_downstream_walks_to_the_chosen_depth(graph):
    result = impact_analysis(ci=graph["db"], direction="downstream", depth=1)
    assert names_by_depth(result) == {"db": 0, "app": 1}
    result = impact_analysis(ci=graph["db"], direction="downstream", depth=2)
    assert names_by_depth(result) == {"db": 0, "app": 1, "service": 2, "web": 2}


def test_cycles_terminate_and_keep_shortest_depth(graph):
    result = impact_analysis(ci=graph["db"], direction="downstream", depth=10)
    assert names_by_depth(result) == {"db": 0, "app": 1, "service": 2, "web": 2}
    edges = {(e["source"], e["target"]) for e in result.edges}
    ids = {name: ci.pk for name, ci in graph.items()}
    assert (ids["service"], ids["db"]) in edges  # the cycle edge is reported, not followed forever
    assert (ids["db"], ids["app"]) in edges


def test_upstream_follows_dependencies(graph):
    result = impact_analysis(ci=graph["web"], direction="upstream", depth=3)
    assert names_by_depth(result) == {"web": 0, "app": 1, "db": 2, "service": 3}


def test_isolated_ci(graph):
    result = impact_analysis(ci=graph["lonely"], direction="downstream", depth=3)
    assert names_by_depth(result) == {"lonely": 0}
    assert result.edges == []


def reference_bfs(adjacency: dict[int, set[int]], root: int, depth: int) -> dict[int, int]:
    """Shortest depth of every CI within `depth` hops, the textbook way."""
    seen, frontier = {root: 0}, [root]
    for level in range(1, depth + 1):
        frontier = [n for f in frontier for n in sorted(adjacency.get(f, ())) if n not in seen]
        for node in frontier:
            seen.setdefault(node, level)
        frontier = sorted(set(frontier))
    return seen


def test_random_graph_with_cycles_matches_a_reference_walk():
    import random

    from cmdb.models import Relationship, RelationshipType
    from tests.factories import RelationshipTypeFactory

    rng = random.Random(7)
    cis = [CIFactory(name=f"n{i:02d}") for i in range(40)]
    rel_type = RelationshipTypeFactory(slug="feeds", name="Feeds")
    pairs = {(rng.randrange(40), rng.randrange(40)) for _ in range(110)}
    Relationship.objects.bulk_create(
        Relationship(source=cis[a], target=cis[b], type=rel_type) for a, b in pairs if a != b
    )
    assert RelationshipType.objects.filter(slug="feeds").exists()
    down: dict[int, set[int]] = {}
    up: dict[int, set[int]] = {}
    for a, b in pairs:
        if a != b:
            down.setdefault(cis[a].pk, set()).add(cis[b].pk)
            up.setdefault(cis[b].pk, set()).add(cis[a].pk)
    for root in cis[:8]:
        for depth in (1, 3, 6):
            for direction, adjacency in (("downstream", down), ("upstream", up)):
                result = impact_analysis(ci=root, direction=direction, depth=depth)
                expected = reference_bfs(adjacency, root.pk, depth)
                assert {n["id"]: n["depth"] for n in result.nodes} == expected
                reached = set(expected)
                edges = {(e["source"], e["target"]) for e in result.edges}
                forward = direction == "downstream"
                wanted = {
                    (a, b) if forward else (b, a)
                    for a in reached
                    if expected[a] < depth
                    for b in adjacency.get(a, ())
                    if b in reached
                }
                assert edges == wanted


def test_the_cap_keeps_the_nearest_and_says_truncated(monkeypatch):
    from cmdb import selectors

    hub = CIFactory(name="hub")
    leaves = [CIFactory(name=f"leaf{i}") for i in range(6)]
    for leaf in leaves:
        link(hub, leaf)
    deeper = CIFactory(name="deeper")
    link(leaves[0], deeper)
    monkeypatch.setattr(selectors, "MAX_IMPACT_NODES", 4)
    result = impact_analysis(ci=hub, direction="downstream", depth=3)
    assert result.truncated
    assert len(result.nodes) == 4
    assert [n["depth"] for n in result.nodes] == [0, 1, 1, 1]
    kept = {n["id"] for n in result.nodes}
    assert all(e["source"] in kept and e["target"] in kept for e in result.edges)
