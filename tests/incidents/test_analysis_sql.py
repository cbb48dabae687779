"""incidents/sql.py against the portable path of incidents.analysis, on the same data."""

from __future__ import annotations

import pytest
from django.db import connection

from incidents import analysis, sql

from .analysis_data import planted

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="jsonb_each is PostgreSQL's")
@pytest.mark.parametrize("min_affected", [1, 2, 30])
def test_attribute_counts_match_the_portable_path(min_affected):
    crashing, others = planted()
    raw = sorted(sql.attribute_counts(crashing, others, min_affected))
    portable = sorted(analysis.attribute_counts_portable(crashing, others, min_affected))
    assert raw == portable
    assert ("encrypted", "true") in {(k, v) for k, v, _, _ in raw}
    assert not any(k == "tags" for k, _, _, _ in raw)


def test_the_portable_path_counts_scalars_only():
    crashing, others = planted()
    rows = analysis.attribute_counts_portable(crashing, others, 1)
    keys = {k for k, _, _, _ in rows}
    assert keys == {"os", "ram_gb", "vendor", "encrypted"}
    assert sum(a for k, _, a, _ in rows if k == "os") == len(crashing)
    assert sum(b for k, _, _, b in rows if k == "os") == len(others)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="plain SQL of PostgreSQL")
@pytest.mark.parametrize("min_affected", [1, 2, 30])
def test_software_counts_match_the_orm(min_affected):
    crashing, others = planted()
    raw = sorted(sql.software_counts(crashing, others, min_affected))
    orm = sorted(analysis.software_counts_portable(crashing, others, min_affected))
    assert raw == orm
    assert any(name == "BrowserPlug" and version == "2.3" for _, name, version, _, _ in raw)
