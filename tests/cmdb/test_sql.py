"""Each statement of cmdb/sql.py against the ORM's answer on the same data (PostgreSQL and
SQLite; the unnest installation exists on PostgreSQL only)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.utils import timezone

from cmdb import sql
from cmdb.choices import CIStatus
from cmdb.models import (
    ConfigurationItem,
    InstalledSoftware,
    Relationship,
    SoftwareProduct,
    SoftwareVersion,
)
from tests.factories import CIFactory, RelationshipTypeFactory
from tests.sql_helpers import after

pytestmark = pytest.mark.django_db


# --- impact walk ---------------------------------------------------------------------------


def orm_impact_rows(*, root_id: int, downstream: bool, depth: int, cap: int) -> set[tuple]:
    """The same answer as `sql.impact_rows`, one ORM query per level."""
    this, nxt = ("source_id", "target_id") if downstream else ("target_id", "source_id")
    depths = {root_id: 0}
    frontier = {root_id}
    for level in range(1, depth + 1):
        reached = set(
            Relationship.objects.filter(**{f"{this}__in": frontier}).values_list(nxt, flat=True)
        )
        frontier = reached - depths.keys()
        depths.update(dict.fromkeys(frontier, level))
        if not frontier:
            break
    kept = dict(sorted(depths.items(), key=lambda kv: (kv[1], kv[0]))[:cap])
    cis = ConfigurationItem.objects.filter(pk__in=kept).values_list(
        "pk", "name", "ci_type_id", "status"
    )
    rows = {("n", pk, kept[pk], name, type_id, status) for pk, name, type_id, status in cis}
    edges = Relationship.objects.filter(
        **{f"{this}__in": [pk for pk, d in kept.items() if d < depth], f"{nxt}__in": kept}
    ).values_list("source_id", "target_id", "type_id")
    return rows | {("e", s, t, None, type_id, None) for s, t, type_id in edges}


@pytest.fixture
def graph():
    """A random graph of 40 CIs with cycles, self-contained."""
    rng = random.Random(6)
    cis = [CIFactory(name=f"g-{i:02d}") for i in range(40)]
    types = [RelationshipTypeFactory(slug=s) for s in ("depends", "hosts")]
    pairs = {(rng.randrange(40), rng.randrange(40)) for _ in range(90)}
    Relationship.objects.bulk_create(
        Relationship(source=cis[a], target=cis[b], type=types[(a + b) % 2])
        for a, b in pairs
        if a != b
    )
    return cis


@pytest.mark.parametrize("downstream", [True, False])
@pytest.mark.parametrize(("depth", "cap"), [(0, 10), (1, 100), (3, 100), (10, 100), (10, 7)])
def test_impact_rows_matches_a_walk_with_the_orm(graph, downstream, depth, cap):
    for root in graph[:5]:
        raw = sql.impact_rows(root_id=root.pk, downstream=downstream, depth=depth, cap=cap)
        assert len(raw) == len(set(raw))
        assert set(raw) == orm_impact_rows(
            root_id=root.pk, downstream=downstream, depth=depth, cap=cap
        )


# --- software catalogue ----------------------------------------------------------------------


@pytest.fixture
def catalogue():
    products = SoftwareProduct.objects.bulk_create(
        SoftwareProduct(name=n, vendor=v, name_key=n.lower(), vendor_key=v.lower())
        for n, v in [("Nginx", ""), ("nginx", "F5"), ("OpenSSL", "Debian"), ("curl", "")]
    )
    SoftwareVersion.objects.bulk_create(
        SoftwareVersion(product=p, version=ver)
        for p in products
        for ver in ("1.0", "1.1", "")
        if p.name != "curl"
    )
    return products


def test_products_by_name_key_matches_the_orm(catalogue):
    for keys in [["nginx"], ["nginx", "openssl", "absent"], [], ["it's"]]:
        raw = sql.products_by_name_key(keys)
        orm = SoftwareProduct.objects.filter(name_key__in=keys).values_list(
            "name_key", "vendor_key", "id"
        )
        assert sorted(raw) == sorted(orm)
    assert len(sql.products_by_name_key(["nginx"])) == 2


def test_versions_by_product_matches_the_orm(catalogue):
    ids = [p.pk for p in catalogue]
    for wanted in [ids, ids[:1], ids[3:], [], [-1]]:
        raw = sql.versions_by_product(wanted)
        orm = SoftwareVersion.objects.filter(product_id__in=wanted).values_list(
            "product_id", "version", "id"
        )
        assert sorted(raw) == sorted(orm)


def test_install_versions_matches_bulk_create(catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("one INSERT … unnest on PostgreSQL; bulk_create is the path elsewhere")
    ci = CIFactory()
    versions = list(SoftwareVersion.objects.values_list("pk", flat=True))
    already = versions[:3]
    at = timezone.now()
    InstalledSoftware.objects.bulk_create(
        InstalledSoftware(ci=ci, software_id=v, source="user") for v in already
    )

    def installed():
        return sorted(InstalledSoftware.objects.filter(ci=ci).values_list("software_id", "source"))

    def raw():
        sql.install_versions(ci_id=ci.pk, version_ids=set(versions), source="agent", at=at)
        return installed()

    def orm():
        InstalledSoftware.objects.bulk_create(
            [InstalledSoftware(ci=ci, software_id=v, source="agent") for v in set(versions)],
            ignore_conflicts=True,
        )
        return installed()

    assert after(raw) == after(orm)
    assert len(after(raw)) == len(versions)


# --- the import's batched UPDATE -------------------------------------------------------------


def test_update_cis_matches_bulk_update():
    cis = [CIFactory(name=f"u-{i}", serial_number=f"S{i}") for i in range(5)]
    untouched = CIFactory(name="untouched")
    fields = ["name", "status", "serial_number", "hostname", "attributes", "version", "updated"]
    when = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)
    for i, ci in enumerate(cis):
        ci.name = f"renamed {i} ' ; --"
        ci.status = CIStatus.PRODUCTION if i % 2 else ci.status
        ci.serial_number = "" if i == 0 else f"s{i}-new"
        ci.hostname = f"host-{i}"
        ci.attributes = {"os": "Debian", "n": i, "nested": {"a": [1, None]}}
        ci.version += 1
        ci.updated = when

    def state():
        return list(
            ConfigurationItem.objects.order_by("pk").values_list("pk", *fields, "description")
        )

    def raw():
        sql.update_cis(cis, fields)
        return state()

    def orm():
        ConfigurationItem.objects.bulk_update(cis, fields)
        return state()

    before = state()
    assert after(raw) == after(orm) != before
    assert [row for row in after(raw) if row[0] == untouched.pk] == [
        row for row in before if row[0] == untouched.pk
    ]


def test_update_cis_batches_beyond_a_thousand_rows():
    if connection.vendor != "postgresql":
        pytest.skip("the VALUES batches are PostgreSQL's")
    ci = CIFactory(name="many")
    copies = [ConfigurationItem(pk=ci.pk, name=f"n{i}") for i in range(1001)]
    sql.update_cis(copies, ["name"])
    assert ConfigurationItem.objects.get(pk=ci.pk).name == "n1000"


# --- a CI's named packages, locked for a diff ------------------------------------------------


def test_installed_by_name_locked_matches_the_orm(catalogue):
    ci, bare = CIFactory(name="with-software"), CIFactory(name="bare")
    versions = list(SoftwareVersion.objects.order_by("pk"))
    InstalledSoftware.objects.bulk_create(
        InstalledSoftware(ci=ci, software=v, source="agent") for v in versions[::2]
    )
    fields = (
        "id",
        "software__product__name_key",
        "software__product__vendor_key",
        "software__version",
        "software__product__name",
        "software__product__vendor",
    )
    for target in (ci, bare):
        for keys in [["nginx"], ["nginx", "openssl", "absent"], [], ["it's"]]:
            name, rows = sql.installed_by_name_locked(ci_id=target.pk, name_keys=keys)
            orm = InstalledSoftware.objects.filter(
                ci=target, software__product__name_key__in=keys
            ).values_list(*fields)
            assert name == target.name
            assert sorted(rows) == sorted(orm)
    assert sql.installed_by_name_locked(ci_id=-1, name_keys=["nginx"]) is None
    assert len(sql.installed_by_name_locked(ci_id=ci.pk, name_keys=["nginx"])[1]) == 3


def test_installed_by_name_locked_locks_the_ci_on_postgresql(catalogue, django_assert_num_queries):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks")
    ci = CIFactory()
    with django_assert_num_queries(1) as captured:
        sql.installed_by_name_locked(ci_id=ci.pk, name_keys=["nginx"])
    assert captured.captured_queries[0]["sql"].endswith("FOR UPDATE OF ci")


def test_versions_by_name_key_matches_the_orm(catalogue):
    for keys in [["nginx"], ["nginx", "openssl", "absent"], [], ["it's"], ["curl"]]:
        raw = sql.versions_by_name_key(keys)
        orm = SoftwareVersion.objects.filter(product__name_key__in=keys).values_list(
            "product__name_key", "product__vendor_key", "version", "id"
        )
        assert sorted(raw) == sorted(orm)
    assert len(sql.versions_by_name_key(["nginx"])) == 6
