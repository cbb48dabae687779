"""CI history and as-of values as people read them: names instead of ids, labels instead of
codes, nested values as lines, nothing as "—".

History stores ids (a renamed site shows its new name everywhere); names are resolved at
display time in one query per kind of referenced object (users, sites, departments, CI types,
CIs, relationship types), whatever the number of entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from . import fields
from .choices import CIRoleKind, CIStatus
from .models import CIType, ConfigurationItem, Department, HistoryEntry, RelationshipType, Site

NOTHING = "—"

#: Fields that hold the id (or slug) of another object, and where its name comes from.
_REFERENCES = {"owner": "users", "site": "sites", "department": "departments", "ci_type": "types"}


@dataclass
class Line:
    """One readable line of an entry: a field moving from `old` to `new`, or a plain `text`."""

    label: str
    old: str = ""
    new: str = ""
    text: str = ""


@dataclass
class ReadableEntry:
    """A history entry with its changes as readable lines."""

    entry: HistoryEntry
    lines: list[Line] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:  # at, actor_name, kind, reason… of the entry
        return getattr(self.entry, name)


@dataclass
class Names:
    """Names of the objects history entries refer to, loaded in one query per kind."""

    users: dict[int, str] = field(default_factory=dict)
    sites: dict[int, str] = field(default_factory=dict)
    departments: dict[int, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    cis: dict[int, str] = field(default_factory=dict)
    relationship_types: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, wanted: Mapping[str, set]) -> Names:
        names = cls()
        if wanted["users"]:
            for pk, username, first, last in (
                get_user_model()
                .objects.filter(pk__in=wanted["users"])
                .values_list("pk", "username", "first_name", "last_name")
            ):
                full = f"{first} {last}".strip()
                names.users[pk] = f"{full} ({username})" if full else username
        for kind, model in (("sites", Site), ("departments", Department)):
            if wanted[kind]:
                getattr(names, kind).update(
                    model.objects.filter(pk__in=wanted[kind]).values_list("pk", "name")
                )
        if wanted["types"]:
            names.types.update(
                CIType.objects.filter(slug__in=wanted["types"]).values_list("slug", "name")
            )
        if wanted["cis"]:
            names.cis.update(
                ConfigurationItem.objects.filter(pk__in=wanted["cis"]).values_list("pk", "name")
            )
        if wanted["relationship_types"]:
            names.relationship_types.update(
                RelationshipType.objects.filter(slug__in=wanted["relationship_types"]).values_list(
                    "slug", "forward_label"
                )
            )
        return names


def _label(name: str) -> str:
    return fields.label(name)


def plain(value: Any) -> str:
    """Any JSON value as text: nothing as "—", booleans as yes/no, nested values as
    `key: value` pairs."""
    if value is None or value == "" or value == [] or value == {}:
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


def _wanted() -> dict[str, set]:
    return {kind: set() for kind in ("users", "sites", "departments", "types", "cis")} | {
        "relationship_types": set()
    }


def _collect_field(wanted: dict[str, set], name: str, value: Any) -> None:
    kind = _REFERENCES.get(name)
    if kind and value not in (None, ""):
        wanted[kind].add(value)


def _collect(wanted: dict[str, set], entry: HistoryEntry) -> None:
    changes = entry.changes or {}
    kind = entry.kind
    if kind == HistoryEntry.Kind.ROLE:
        for user_id, _ in [*changes.get("added", []), *changes.get("removed", [])]:
            wanted["users"].add(user_id)
    elif kind == HistoryEntry.Kind.RELATIONSHIP:
        for rel in [*changes.get("added", []), *changes.get("removed", [])]:
            wanted["cis"].update((rel.get("source"), rel.get("target")))
            wanted["relationship_types"].add(rel.get("type"))
    elif kind not in (
        HistoryEntry.Kind.SOFTWARE,
        HistoryEntry.Kind.NETWORK,
        HistoryEntry.Kind.STORAGE,
    ):
        for name, change in changes.items():
            if isinstance(change, Mapping):
                _collect_field(wanted, name, change.get("old"))
                _collect_field(wanted, name, change.get("new"))


def display_value(name: str, value: Any, names: Names) -> str:
    """One field's value as people read it."""
    if value is None or value == "":
        return NOTHING
    if name == "status":
        return CIStatus(value).label if value in CIStatus.values else str(value)
    kind = _REFERENCES.get(name)
    if kind:
        known = getattr(names, kind).get(value)
        return known if known is not None else f"#{value} (deleted)"
    return plain(value)


def _field_lines(changes: Mapping[str, Any], names: Names, *, kind: str) -> list[Line]:
    """Field changes as lines; a created CI shows its values, a deleted one its last ones."""
    one_sided = kind in (HistoryEntry.Kind.CREATED, HistoryEntry.Kind.DELETED)
    lines = []
    for name, change in changes.items():
        if not isinstance(change, Mapping) or not {"old", "new"} & change.keys():
            lines.append(Line(label=_label(name), text=plain(change)))
            continue
        old, new = change.get("old"), change.get("new")
        if (
            name == "attributes"
            and isinstance(old or {}, Mapping)
            and isinstance(new or {}, Mapping)
        ):
            old, new = old or {}, new or {}
            for key in sorted(old.keys() | new.keys(), key=str):
                before, after = plain(old.get(key)), plain(new.get(key))
                if before == after:
                    continue
                if one_sided:
                    lines.append(Line(label=f"Attribute {key}", new=after if new else before))
                else:
                    lines.append(Line(label=f"Attribute {key}", old=before, new=after))
            continue
        if one_sided:
            value = new if kind == HistoryEntry.Kind.CREATED else old
            if value not in (None, "", {}, []):
                lines.append(Line(label=_label(name), new=display_value(name, value, names)))
            continue
        lines.append(
            Line(
                label=_label(name),
                old=display_value(name, old, names),
                new=display_value(name, new, names),
            )
        )
    return lines


def _software_item(item: Mapping[str, Any]) -> str:
    return (
        " ".join(str(item.get(k) or "") for k in ("vendor", "name", "version")).strip() or NOTHING
    )


def _interface(item: Mapping[str, Any]) -> str:
    extra = ", ".join(filter(None, [item.get("mac") or "", ", ".join(item.get("ipv4") or [])]))
    return f"{item.get('name') or NOTHING}" + (f" ({extra})" if extra else "")


def _set_lines(changes: Mapping[str, Any], describe, *, keys: Sequence[str]) -> list[Line]:
    lines = []
    for key in keys:
        items = changes.get(key) or []
        if items:
            lines.append(Line(label=key.capitalize(), text="; ".join(describe(i) for i in items)))
    return lines


def _lines(entry: HistoryEntry, names: Names) -> list[Line]:
    changes = entry.changes or {}
    kind = entry.kind
    if kind == HistoryEntry.Kind.SOFTWARE:
        return _set_lines(changes, _software_item, keys=("added", "removed"))
    if kind == HistoryEntry.Kind.NETWORK:
        section = changes.get("network", changes)
        return _set_lines(section, _interface, keys=("added", "removed", "changed"))
    if kind == HistoryEntry.Kind.STORAGE:
        section = changes.get("storage", changes)
        lines = _set_lines(section, str, keys=("added", "removed"))
        for item in section.get("resized") or []:
            lines.append(
                Line(
                    label=f"Resized {item.get('mount')}",
                    old=f"{item.get('old_mb')} MB",
                    new=f"{item.get('new_mb')} MB",
                )
            )
        return lines
    if kind == HistoryEntry.Kind.ROLE:

        def role(pair: Sequence[Any]) -> str:
            user_id, code = pair
            label = CIRoleKind(code).label if code in CIRoleKind.values else code
            return f"{names.users.get(user_id, f'#{user_id}')} — {label}"

        return _set_lines(changes, role, keys=("added", "removed"))
    if kind == HistoryEntry.Kind.RELATIONSHIP:

        def relationship(rel: Mapping[str, Any]) -> str:
            source = names.cis.get(rel.get("source"), f"#{rel.get('source')}")
            target = names.cis.get(rel.get("target"), f"#{rel.get('target')}")
            label = names.relationship_types.get(rel.get("type"), rel.get("type"))
            return f"{source} {label} {target}"

        return _set_lines(changes, relationship, keys=("added", "removed"))
    return _field_lines(changes, names, kind=kind)


def readable_entries(entries: Iterable[HistoryEntry]) -> list[ReadableEntry]:
    """History entries with readable lines: one query per kind of referenced object."""
    entries = list(entries)
    wanted = _wanted()
    for entry in entries:
        _collect(wanted, entry)
    names = Names.load(wanted)
    return [ReadableEntry(entry=e, lines=_lines(e, names)) for e in entries]


def readable_fields(fields: Mapping[str, Any]) -> list[Line]:
    """The fields of a CI (a `snapshot`, e.g. as it stood at a past moment) as readable lines
    (`label`, `new` = the value); attributes one line per key."""
    wanted = _wanted()
    for name, value in fields.items():
        _collect_field(wanted, name, value)
    names = Names.load(wanted)
    lines = []
    for name, value in fields.items():
        if name == "attributes" and isinstance(value, Mapping):
            lines.extend(Line(label=f"Attribute {k}", new=plain(v)) for k, v in value.items())
            if not value:
                lines.append(Line(label=_label(name), new=NOTHING))
        else:
            lines.append(Line(label=_label(name), new=display_value(name, value, names)))
    return lines


def summary(lines: Iterable[Line]) -> list[str]:
    """Lines as plain strings (`label: old → new`), for the API."""
    out = []
    for line in lines:
        if line.text:
            out.append(f"{line.label}: {line.text}")
        elif line.old:
            out.append(f"{line.label}: {line.old} → {line.new}")
        else:
            out.append(f"{line.label}: {line.new}")
    return out
