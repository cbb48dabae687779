"""Demo data for `manage.py seed_demo`: a believable organisation with its CMDB.

`catalogue` holds the names, models and software the data is drawn from, `blueprint` turns them
into a deterministic plan (no database), and `builder` writes what is missing through the CMDB
services.
"""

from collections.abc import Callable

#: Demo steps of other apps, run by `seed_demo` after the CMDB's own data. An app appends its
#: step in its `AppConfig.ready()` (the agents app enrols demo agents): `cmdb` imports none of
#: them. A step takes no arguments, must be idempotent, and returns summary rows
#: `(label, created, total)`.
extensions: list[Callable[[], list[tuple[str, int, int]]]] = []
