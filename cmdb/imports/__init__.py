"""CSV import and export of CIs and relationships: every row is checked before anything is written.

Modules: `reading` (files, cells, text the database cannot store), `planning` (which CI a row
creates or changes, and how), `applying` (the CI import: plan, then write all or nothing),
`relationships` (the relationship import), `export` (streamed CSV), `result` (ImportResult).
The public names stay importable from `cmdb.imports`.

The contract (also shown on the import page and in the API docs):

CIs — one row per CI, header row first, UTF-8 with or without BOM, `,` (or `;` / tab) separated:

    id, name, ci_type, status, managed, owner, department, site, serial_number, asset_tag,
    hostname, uuid, description, attributes, version, attr:<key>…

* A row changes an existing CI only through an explicit key, chosen for the whole import
  ("match on"): `id` (the default when the file has an id column), or one identifier column
  (`serial_number`, `asset_tag`, `hostname`, `uuid`), or `none` (the default without an id
  column: every row creates a CI). A row whose key matches no CI creates one (`name` and
  `ci_type` needed); an `id` that matches no CI is an error (leave it empty to create).
* A row is refused when another of its identifiers (serial number, asset tag, UUID, host name
  among CIs not disposed) belongs to a different CI than its key (it matches two CIs), when it
  would create a CI with an identifier another CI has, and when it would change a CI's type.
* An update changes only the columns present, by the rules of `services.ci_update`
  (identifiers normalised, attributes checked, version check), history recorded, version + 1.
  A row that changes nothing is "unchanged" and writes nothing. The result (and the dry run)
  names every CI a row changes and each field's old → new value.
* `ci_type` and `site` are slugs, `owner` a username, `department` a name; `managed` is
  true/false/yes/no/1/0; `status` applies at creation only (lifecycle moves go through the
  lifecycle action; a different status on an existing CI is an error); `attributes` is a JSON
  object (nested at most API_JSON_MAX_DEPTH levels, default 32, as API bodies); `attr:<key>` sets one
  attribute, typed by the CI type's JSON Schema (integer, number, boolean, array/object as
  JSON, else text); an empty `attr:` cell sets nothing. A cell with a NUL character or a lone
  surrogate is refused.
* On an update an empty cell clears the field, except name, ci_type, status, managed, attributes,
  id and version, which an empty cell leaves as they are. `version`, when given, is the version
  the row was exported at: a CI changed since then is an error instead of a lost update.
* Cells that a spreadsheet would run as a formula (starting with = + - @) are exported with a
  leading apostrophe, which the import removes again.
* All or nothing: one bad row refuses the whole file, and every bad row is listed.

Relationships — columns `source`, `target` (a CI id, or the exact name of exactly one CI) and
`type` (relationship type slug). A relationship that already exists is "unchanged".

Why these tools: django-import-export's resources look up and save instances one row at a time
outside our services (no permission check, no history with its source), which is the per-row
slowness this import must avoid. Its format layer, tablib, loads a whole sheet into a Dataset and
cannot stream an export of 100,000 CIs, nor tell which record of a file is malformed; it hands CSV
to the standard `csv` module anyway. So files are read and written with `csv` directly, rows are
checked against data preloaded in a fixed number of queries, and writes are bulk: new CIs through
`services.ci_bulk_create`, changed CIs in one UPDATE per 1,000 rows (`cmdb.sql.update_cis`),
new links with `bulk_create`, history entries with `record_many`. (django-import-export serves
the admin's reference tables: departments, sites, relationship types, CI types export-only.)

Measured with bench/import_csv.py (10,000 CI rows, every column; 2-core machine shared with
other jobs): create 3.8 to 4.6 s on SQLite, 5.2 to 7.6 s on PostgreSQL; dry run under 1.5 s; an
unchanged re-import of the export about 1 s; 20,000 relationships 2.3 to 3.8 s. Planning every
update through `services.ci_update_prepare` (field validation per row, as `ci_update` does) and the
new identity checks cost, in CPU seconds on SQLite at 10,000 rows: update 2.0 → 2.7, dry run
0.5 → 0.7; create, unchanged re-import, export and relationships unchanged within noise.
"""

from __future__ import annotations

from itsm.exceptions import ApplicationError

from ..history import ChangeContext
from .applying import import_cis
from .export import export_cis, export_relationships
from .planning import IDENTIFYING_NORMALIZERS, IN_CHUNK, UNIQUE_IDENTIFIERS, resolve_match_on
from .reading import (
    ATTR_PREFIX,
    CI_COLUMNS,
    CI_CREATE_COLUMNS,
    IDENTIFYING_COLUMNS,
    MATCH_CHOICES,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    RELATIONSHIP_COLUMNS,
    ImportFileError,
    check_columns,
    convert_attribute,
    parse_bool,
    parse_csv,
)
from .relationships import import_relationships
from .result import ImportResult

__all__ = [
    "ATTR_PREFIX",
    "CI_COLUMNS",
    "CI_CREATE_COLUMNS",
    "IDENTIFYING_COLUMNS",
    "IDENTIFYING_NORMALIZERS",
    "IN_CHUNK",
    "MATCH_CHOICES",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "RELATIONSHIP_COLUMNS",
    "UNIQUE_IDENTIFIERS",
    "ImportFileError",
    "ImportResult",
    "check_columns",
    "convert_attribute",
    "export_cis",
    "export_relationships",
    "import_cis",
    "import_csv",
    "import_relationships",
    "parse_bool",
    "parse_csv",
    "resolve_match_on",
]


def import_csv(
    *,
    context: ChangeContext,
    kind: str,
    data: bytes | str,
    dry_run: bool,
    match_on: str | None = None,
) -> ImportResult:
    """Parse a CSV file and import it as CIs (`kind="cis"`, matched on `match_on`: see
    `import_cis`) or relationships."""
    if kind not in {"cis", "relationships"}:
        raise ApplicationError(f"Unknown import kind “{kind}”: cis or relationships.")
    rows = parse_csv(data, kind=kind)
    if kind == "relationships":
        return import_relationships(context=context, rows=rows, dry_run=dry_run)
    return import_cis(context=context, rows=rows, dry_run=dry_run, match_on=match_on)
