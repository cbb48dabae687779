"""Exact query counts of hot pages and endpoints, pinned in `query_counts.json` (NetBox's model).

A test measures a page with `measure(client, url)` and compares it with `assert_pinned(name, n)`.
Counts are kept per database vendor and cache (savepoints, COPY and cached pages differ). When a change adds or removes
a query on purpose, run the tests with `ITSM_UPDATE_QUERY_COUNTS=1` and commit the JSON file:
the diff then shows the reviewer every page whose cost moved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

PINNED_FILE = Path(__file__).with_name("query_counts.json")


def measure(client, url: str, *, method: str = "get", **kwargs) -> int:
    """Queries of one request, after a first one warmed what is cached across requests."""
    getattr(client, method)(url, **kwargs)
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, **kwargs)
    assert response.status_code < 400, (url, response.status_code)
    return len(ctx.captured_queries)


def assert_pinned(name: str, count: int) -> None:
    """`count` is exactly the number pinned for `name` on this database vendor."""
    pinned = json.loads(PINNED_FILE.read_text()) if PINNED_FILE.exists() else {}
    # The shared (Redis) cache saves queries the per-process cache of the SQLite run repeats.
    vendor = connection.vendor + ("+shared-cache" if settings.SHARED_CACHE else "")
    if os.environ.get("ITSM_UPDATE_QUERY_COUNTS"):
        pinned.setdefault(name, {})[vendor] = count
        PINNED_FILE.write_text(json.dumps(pinned, indent=2, sort_keys=True) + "\n")
        return
    expected = pinned.get(name, {}).get(vendor)
    assert expected is not None, (
        f"no pinned count for {name} on {vendor}: run with ITSM_UPDATE_QUERY_COUNTS=1"
    )
    assert count == expected, (
        f"{name} ran {count} queries on {vendor}, {expected} pinned "
        "(if intended, re-pin with ITSM_UPDATE_QUERY_COUNTS=1)"
    )
