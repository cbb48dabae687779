"""The one registry of a CI's fields: what each is called, how it is read, written and recorded.

The service's editable fields, the API's representation and its fast `values_list` path, the
CSV columns, history's tracked fields and the unique identifiers all derive from `CI_FIELDS`,
so adding a field to CIs is one line here (plus the model, its migration and, where it needs a
widget, the form).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CIField:
    """One field of a configuration item as the outside world sees it."""

    #: The model attribute, the API key and the CSV column.
    name: str
    #: What people read in forms, history and error messages.
    label: str
    #: `values_list` path of its outside value (a related row's natural key, e.g. `owner__username`).
    column: str = ""
    #: Callers may set it on create and update (status moves only through `ci_transition`).
    editable: bool = True
    #: Changes are recorded in history and rebuilt by the as-of view.
    tracked: bool = True
    #: In the CSV export (and accepted by the import).
    exported: bool = True
    #: A unique identifier of a CI (among CIs not disposed).
    identifier: bool = False
    #: For a foreign key: the related model's natural key, as written in the API and the CSV.
    natural_key: str = ""

    @property
    def path(self) -> str:
        return self.column or self.name


#: In the order of the CSV columns and the API representation.
CI_FIELDS: tuple[CIField, ...] = (
    CIField("id", "ID", editable=False, tracked=False),
    CIField("name", "Name"),
    CIField("ci_type", "Type", column="ci_type__slug", natural_key="slug"),
    CIField("status", "Status", editable=False),
    CIField("managed", "Managed"),
    CIField("owner", "Owner", column="owner__username", natural_key="username"),
    CIField("department", "Department", column="department__name", natural_key="name"),
    CIField("site", "Site", column="site__slug", natural_key="slug"),
    CIField("serial_number", "Serial number", identifier=True),
    CIField("asset_tag", "Asset tag", identifier=True),
    CIField("hostname", "Host name"),
    CIField("uuid", "UUID", identifier=True),
    CIField("description", "Description"),
    CIField("attributes", "Attributes"),
    CIField("version", "Version", editable=False, tracked=False),
    CIField("created", "Created", editable=False, tracked=False, exported=False),
    CIField("updated", "Updated", editable=False, tracked=False, exported=False),
)

BY_NAME: dict[str, CIField] = {f.name: f for f in CI_FIELDS}

#: Fields a caller may set on create or update.
EDITABLE: tuple[str, ...] = tuple(f.name for f in CI_FIELDS if f.editable)
#: Fields whose changes history records.
TRACKED: tuple[str, ...] = tuple(f.name for f in CI_FIELDS if f.tracked)
#: Unique identifiers (besides the host name, unique among live CIs of any class).
IDENTIFIERS: tuple[str, ...] = tuple(f.name for f in CI_FIELDS if f.identifier)
#: Foreign keys, with the natural key they are written by.
REFERENCES: dict[str, str] = {f.name: f.natural_key for f in CI_FIELDS if f.natural_key}
#: The API representation, in order, and the `values_list` paths that read it in one query.
API_KEYS: tuple[str, ...] = tuple(f.name for f in CI_FIELDS)
API_COLUMNS: tuple[str, ...] = tuple(f.path for f in CI_FIELDS)
#: CSV columns of the export and the import.
CSV_COLUMNS: tuple[str, ...] = tuple(f.name for f in CI_FIELDS if f.exported)
CSV_PATHS: tuple[str, ...] = tuple(f.path for f in CI_FIELDS if f.exported)


def label(name: str) -> str:
    """The label of a CI field (or the name itself for one this registry does not know)."""
    field = BY_NAME.get(name)
    return field.label if field else name.replace("_", " ").capitalize()
