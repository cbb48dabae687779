"""The one registry of CI fields (cmdb/fields.py) is what every layer uses."""

from __future__ import annotations

import pytest

from cmdb import fields, history, imports, services
from cmdb.api import representations
from cmdb.api.serializers import CISerializer
from cmdb.models import ConfigurationItem


def test_every_registered_field_is_a_model_field():
    model_fields = {f.name for f in ConfigurationItem._meta.get_fields()}
    assert set(fields.API_KEYS) <= model_fields


def test_layers_derive_their_lists_from_the_registry():
    assert services.EDITABLE_FIELDS == fields.EDITABLE
    assert services.IDENTIFIER_FIELDS == fields.IDENTIFIERS
    assert history.TRACKED_FIELDS == fields.TRACKED
    assert representations.CI_KEYS == fields.API_KEYS
    assert imports.CI_COLUMNS == fields.CSV_COLUMNS


def test_the_api_serializer_declares_exactly_the_registered_fields():
    assert set(CISerializer().fields) == set(fields.API_KEYS)


def test_status_moves_only_through_transitions_and_ids_are_never_written():
    assert "status" not in fields.EDITABLE and "id" not in fields.EDITABLE
    assert {"status", "owner", "attributes"} <= set(fields.TRACKED)
    assert "version" not in fields.TRACKED


@pytest.mark.django_db
def test_the_export_header_is_the_registry():
    header = next(imports.export_cis(ConfigurationItem.objects.none()))
    assert header.strip().split(",") == list(fields.CSV_COLUMNS)
