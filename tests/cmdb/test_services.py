"""CMDB services: validation, identifiers, lifecycle, optimistic locking, history, software."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cmdb import selectors, services
from cmdb.choices import CI_TRANSITIONS, CIStatus
from cmdb.history import ChangeContext
from cmdb.models import (
    ConfigurationItem,
    HistoryEntry,
    InstalledSoftware,
    SoftwareProduct,
    StatusChange,
)
from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from tests.factories import SYSTEM, CIFactory, link, server_type

pytestmark = pytest.mark.django_db


def make_server(**kwargs):
    kwargs.setdefault("attributes", {"os": "Debian 12"})
    return CIFactory(ci_type=server_type(), **kwargs)


def test_attributes_are_validated_against_the_type_schema():
    with pytest.raises(ValidationError) as err:
        make_server(attributes={"cpu_cores": 0})
    messages = " ".join(err.value.message_dict["attributes"])
    assert "'os' is a required property" in messages
    assert "cpu_cores: 0 is less than the minimum of 1" in messages
    assert ConfigurationItem.objects.count() == 0


def test_identifiers_are_normalised_and_unique():
    ci = make_server(
        name="web",
        serial_number="  ABC123 ",
        uuid="{4C4C4544-0042-3510-8052-B4C04F4B4D32}",
        hostname="Web01.Example.ORG.",
    )
    assert ci.serial_number == "ABC123"
    assert ci.uuid == "4c4c4544-0042-3510-8052-b4c04f4b4d32"
    assert ci.hostname == "web01.example.org"
    with pytest.raises(ValidationError) as err:
        make_server(name="other", serial_number="ABC123")
    assert "serial_number" in str(err.value) or "Serial" in str(err.value)
    with pytest.raises(ValidationError):
        make_server(name="other", uuid="4C4C4544-0042-3510-8052-B4C04F4B4D32")
    # blank identifiers never collide
    make_server(name="a")
    make_server(name="b")


@pytest.mark.parametrize(
    ("from_status", "to_status"), list(itertools.product(CIStatus.values, CIStatus.values))
)
def test_every_lifecycle_pair_is_allowed_or_refused(from_status, to_status):
    ci = make_server()
    ConfigurationItem.objects.filter(pk=ci.pk).update(status=from_status)
    allowed = to_status in CI_TRANSITIONS[from_status]
    if allowed:
        context = ChangeContext(source="system", reason="lifecycle test")  # disposal needs one
        moved = services.ci_transition(context=context, ci_id=ci.pk, to_status=to_status)
        assert moved.status == to_status
        change = StatusChange.objects.get(ci=ci)
        assert (change.from_status, change.to_status) == (from_status, to_status)
    else:
        with pytest.raises(ApplicationError):
            services.ci_transition(context=SYSTEM, ci_id=ci.pk, to_status=to_status)
        ci.refresh_from_db()
        assert ci.status == from_status
        assert not StatusChange.objects.filter(ci=ci).exists()


def test_transition_records_who_when_and_why(cmdb_manager):
    ci = make_server()
    context = ChangeContext(actor=cmdb_manager, source="user", reason="delivered by vendor")
    services.ci_transition(context=context, ci_id=ci.pk, to_status=CIStatus.RECEIVED)
    change = StatusChange.objects.get(ci=ci)
    assert change.actor == cmdb_manager and change.reason == "delivered by vendor"
    entry = HistoryEntry.objects.filter(ci=ci, kind="status").get()
    assert entry.actor_name == cmdb_manager.username
    assert entry.changes == {"status": {"old": "ordered", "new": "received"}}


def test_transition_needs_permission(read_only_user):
    ci = make_server()
    with pytest.raises(PermissionDeniedError):
        services.ci_transition(
            context=ChangeContext(actor=read_only_user), ci_id=ci.pk, to_status=CIStatus.RECEIVED
        )
    ci.refresh_from_db()
    assert ci.status == CIStatus.ORDERED


def test_stale_version_is_a_conflict_and_writes_nothing():
    ci = make_server()
    services.ci_update(
        context=SYSTEM, ci_id=ci.pk, data={"description": "first"}, expected_version=1
    )
    with pytest.raises(ConflictError):
        services.ci_update(
            context=SYSTEM, ci_id=ci.pk, data={"description": "second"}, expected_version=1
        )
    ci.refresh_from_db()
    assert (ci.description, ci.version) == ("first", 2)


def test_unchanged_update_writes_no_history():
    ci = make_server(description="same")
    before = HistoryEntry.objects.count()
    services.ci_update(
        context=SYSTEM, ci_id=ci.pk, data={"description": "same"}, expected_version=1
    )
    ci.refresh_from_db()
    assert ci.version == 1
    assert HistoryEntry.objects.count() == before


def test_history_and_as_of_view():
    ci = make_server(description="v1")
    t1 = timezone.now()
    HistoryEntry.objects.filter(ci=ci).update(at=t1 - dt.timedelta(seconds=10))
    services.ci_update(context=SYSTEM, ci_id=ci.pk, data={"description": "v2"}, expected_version=1)
    services.software_replace(context=SYSTEM, ci=ci, items=[{"name": "nginx", "version": "1.24"}])
    other = make_server(name="db")
    link(ci, other)
    past = selectors.ci_as_of(ci, t1)
    assert past.exists and past.fields["description"] == "v1"
    assert past.software == [] and past.relationships == []
    now = selectors.ci_as_of(ci, timezone.now())
    assert now.fields["description"] == "v2"
    assert now.software == [{"name": "nginx", "vendor": "", "version": "1.24"}]
    assert len(now.relationships) == 1
    before_creation = selectors.ci_as_of(ci, t1 - dt.timedelta(seconds=60))
    assert not before_creation.exists


def test_software_replace_is_a_diff_with_one_catalogue():
    a, b = make_server(name="a"), make_server(name="b")
    items = [
        {"name": "OpenSSL", "vendor": "OpenSSL", "version": "3.0.2"},
        {"name": "nginx", "version": "1.24"},
    ]
    change = services.software_replace(context=SYSTEM, ci=a, items=items)
    assert len(change["added"]) == 2 and change["removed"] == []
    services.software_replace(
        context=SYSTEM, ci=b, items=[{"name": "openssl", "vendor": "openssl", "version": "3.0.2"}]
    )
    assert SoftwareProduct.objects.filter(name__iexact="openssl").count() == 1
    again = services.software_replace(context=SYSTEM, ci=a, items=items)
    assert again == {"added": [], "removed": []}
    assert HistoryEntry.objects.filter(ci=a, kind="software").count() == 1
    services.software_replace(context=SYSTEM, ci=a, items=items[:1])
    assert InstalledSoftware.objects.filter(ci=a).count() == 1
    running = selectors.cis_running(
        ConfigurationItem.objects.all(), product="OPENSSL", version="3.0.2"
    )
    assert set(running) == {a, b}


def installed_on(ci) -> list[tuple[str, str, str]]:
    return sorted(
        InstalledSoftware.objects.filter(ci=ci).values_list(
            "software__product__name", "software__product__vendor", "software__version"
        )
    )


def test_software_apply_changes_the_named_packages_only():
    ci = make_server()
    services.software_replace(
        context=SYSTEM,
        ci=ci,
        items=[
            {"name": "nginx", "version": "1.24"},
            {"name": "acme-agent", "vendor": "Acme", "version": "1.0"},
            {"name": "telnetd", "version": "0.17"},
        ],
    )
    change = services.software_apply(
        context=SYSTEM,
        ci_id=ci.pk,
        install=[{"name": "ACME-agent", "vendor": "Acme Corp", "version": "2.0"}],
        remove=["TELNETD"],
    )
    # Installing a name replaces whatever version (or vendor) of it was there; the rest stays.
    assert installed_on(ci) == [("ACME-agent", "Acme Corp", "2.0"), ("nginx", "", "1.24")]
    assert change == {
        "added": [{"name": "ACME-agent", "vendor": "Acme Corp", "version": "2.0"}],
        "removed": [
            {"name": "acme-agent", "vendor": "Acme", "version": "1.0"},
            {"name": "telnetd", "vendor": "", "version": "0.17"},
        ],
    }
    entry = HistoryEntry.objects.filter(ci=ci, kind="software").latest("id")
    assert entry.changes == change and entry.source == SYSTEM.source


def test_software_apply_with_nothing_to_change_writes_nothing():
    ci = make_server()
    services.software_replace(context=SYSTEM, ci=ci, items=[{"name": "nginx", "version": "1.24"}])
    entries = HistoryEntry.objects.filter(ci=ci).count()
    again = services.software_apply(
        context=SYSTEM, ci_id=ci.pk, install=[{"name": "nginx", "version": "1.24"}], remove=["vim"]
    )
    assert again == {"added": [], "removed": []}
    assert HistoryEntry.objects.filter(ci=ci).count() == entries


def test_software_apply_refuses_a_nameless_entry_an_unknown_ci_and_a_reader(read_only_user):
    ci = make_server()
    with pytest.raises(ApplicationError):
        services.software_apply(context=SYSTEM, ci_id=ci.pk, install=[{"version": "1"}])
    with pytest.raises(ApplicationError):
        services.software_apply(context=SYSTEM, ci_id=ci.pk, remove=[" "])
    with pytest.raises(ApplicationError):
        services.software_apply(context=SYSTEM, ci_id=10**9, install=[{"name": "x"}])
    reader = ChangeContext(actor=read_only_user, source="api")
    with pytest.raises(PermissionDeniedError):
        services.software_apply(context=reader, ci_id=ci.pk, install=[{"name": "x"}])
    assert installed_on(ci) == []
    assert not HistoryEntry.objects.filter(ci=ci, kind="software").exists()


def test_relationship_duplicates_and_self_links_are_refused():
    a, b = make_server(name="a"), make_server(name="b")
    link(a, b)
    with pytest.raises(ApplicationError, match="already exists"):
        link(a, b)
    with pytest.raises(ApplicationError, match="itself"):
        link(a, a)


def test_bulk_create_is_all_or_nothing():
    ci_type = server_type()
    make_server(name="existing", serial_number="S-1")
    items = [
        {"ci_type": ci_type, "name": "n1", "serial_number": "S-2", "attributes": {"os": "x"}},
        {"ci_type": ci_type, "name": "n2", "serial_number": "S-2", "attributes": {"os": "x"}},
        {"ci_type": ci_type, "name": "n3", "serial_number": "S-1", "attributes": {"os": "x"}},
        {"ci_type": ci_type, "name": "n4", "attributes": {}},
    ]
    with pytest.raises(ApplicationError) as err:
        services.ci_bulk_create(context=SYSTEM, items=items)
    indexes = [e["index"] for e in err.value.extra["errors"]]
    assert indexes == [1, 2, 3]
    assert ConfigurationItem.objects.count() == 1
    created = services.ci_bulk_create(context=SYSTEM, items=items[:1])
    assert created[0].pk and HistoryEntry.objects.filter(ci=created[0], kind="created").exists()


def test_software_catalogue_folds_case_beyond_ascii():
    """SQLite's lower() folds only ASCII: keys are computed in Python, the same on every database."""
    a, b = make_server(name="a"), make_server(name="b")
    services.software_replace(
        context=SYSTEM, ci=a, items=[{"name": "typing", "vendor": "Łukasz Langa", "version": "1"}]
    )
    services.software_replace(
        context=SYSTEM, ci=b, items=[{"name": "TYPING", "vendor": "łukasz  langa", "version": "1"}]
    )
    assert SoftwareProduct.objects.count() == 1
    running = selectors.cis_running(ConfigurationItem.objects.all(), product="Typing")
    assert set(running) == {a, b}


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["os", "cpu_cores", "memory_mb", "environment", "other"]),
        JSON_VALUES,
        max_size=5,
    )
)
def test_compiled_and_interpreted_schema_validation_agree(attributes):
    """The compiled validator is only a fast path: it must accept exactly what jsonschema accepts."""
    import importlib

    from cmdb.models import CIType

    schema = importlib.import_module("cmdb.migrations.0002_standard_types").CI_TYPES[0][3]
    ci_type = CIType(name="x", slug="x", attribute_schema=schema)
    fast, full = services._validators(ci_type, schema)
    try:
        fast(attributes)
        fast_ok = True
    except Exception:
        fast_ok = False
    assert fast_ok == (not list(full.iter_errors(attributes)))
