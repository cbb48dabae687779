"""django-import-export in the admin: reference tables import and export on their natural keys;
CI types export only (issue 6 part 2 item 4)."""

from __future__ import annotations

import pytest
import tablib
from django.urls import NoReverseMatch, reverse

from cmdb.models import CIType, Department, RelationshipType, Site
from cmdb.resources import (
    CITypeResource,
    DepartmentResource,
    RelationshipTypeResource,
    SiteResource,
)
from itsm.audit import entries_for

pytestmark = pytest.mark.django_db


def dataset(headers, *rows) -> tablib.Dataset:
    return tablib.Dataset(*rows, headers=headers)


def test_sites_and_departments_import_on_their_natural_keys():
    Site.objects.create(name="Old name", slug="hq")
    result = SiteResource().import_data(
        dataset(["name", "slug", "address"], ["Head office", "hq", "1 Main St"], ["DC", "dc", ""]),
        dry_run=False,
    )
    assert not result.has_errors() and not result.has_validation_errors()
    assert Site.objects.get(slug="hq").name == "Head office"  # updated, not duplicated
    assert Site.objects.count() == 2
    result = DepartmentResource().import_data(
        dataset(["name", "site"], ["Finance", "hq"]), dry_run=False
    )
    assert not result.has_errors()
    assert Department.objects.get(name="Finance").site.slug == "hq"
    exported = DepartmentResource().export().csv
    assert exported.splitlines() == ["name,site", "Finance,hq"]


def test_imported_rows_are_in_the_audit_log(django_user_model):
    user = django_user_model.objects.create_user("importer")
    result = SiteResource().import_data(
        dataset(["name", "slug", "address"], ["Head office", "hq", ""]), dry_run=False, user=user
    )
    assert not result.has_errors()
    entry = entries_for(Site.objects.get(slug="hq")).get()
    assert (entry.kind, entry.actor, entry.source) == ("imported", user, "admin")
    assert entry.changes["name"]["new"] == "Head office"
    SiteResource().import_data(dataset(["name", "slug", "address"], ["X", "x", ""]), dry_run=True)
    assert not Site.objects.filter(slug="x").exists()


def test_bad_rows_are_refused_and_nothing_is_written():
    before = RelationshipType.objects.count()
    result = RelationshipTypeResource().import_data(
        dataset(
            ["name", "slug", "forward_label", "reverse_label"],
            ["Feeds", "feeds", "feeds", "is fed by"],
            ["Bad\x00", "bad", "x", "y"],
            ["No slug", "not a slug!", "x", "y"],
        ),
        dry_run=False,
        use_transactions=True,
    )
    assert result.has_errors() or result.has_validation_errors()
    assert RelationshipType.objects.count() == before


def test_ci_types_export_only(admin_client):
    assert "attribute_schema" in CITypeResource().export().csv.splitlines()[0]
    with pytest.raises(NoReverseMatch):
        reverse("admin:cmdb_citype_import")
    assert admin_client.get(reverse("admin:cmdb_citype_export")).status_code == 200
    for model in ("site", "department", "relationshiptype"):
        assert admin_client.get(reverse(f"admin:cmdb_{model}_import")).status_code == 200
        assert admin_client.get(reverse(f"admin:cmdb_{model}_export")).status_code == 200
    assert CIType.objects.filter(slug="server").exists()


def test_importing_needs_add_and_change_permissions(client, django_user_model):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_site"))
    client.force_login(staff)
    assert client.get(reverse("admin:cmdb_site_import")).status_code == 403
    assert client.get(reverse("admin:cmdb_site_export")).status_code == 200
