"""JSON Schemas of CI types: checked when a type is saved, compiled once, never reaching outside.

A CI type's `attribute_schema` is written by CMDB Managers, so it is untrusted input: it may
only refer to itself (`"$ref": "#/…"`). Nothing here ever fetches a URL or reads a file —
jsonschema resolves references through a registry whose retrieval refuses everything, and
fastjsonschema (which would `urlopen()` any reference it does not know) only gets schemas
that are self-contained. A schema is checked when its type is saved (`check_attribute_schema`):
a JSON object, at most `CMDB_SCHEMA_MAX_BYTES` serialised and `CMDB_SCHEMA_MAX_DEPTH` levels
deep, no remote references or base URIs, valid against its metaschema, every `$ref` resolving.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from itsm.limits import check_attribute_limits

if TYPE_CHECKING:
    from .models import CIType

#: Defaults of the limits (settings `CMDB_SCHEMA_MAX_BYTES`, `CMDB_SCHEMA_MAX_DEPTH`).
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 20

#: The only `$schema` values a CI type may name: the standard metaschemas, never fetched.
STANDARD_METASCHEMAS = frozenset(
    {
        "http://json-schema.org/draft-04/schema",
        "http://json-schema.org/draft-06/schema",
        "http://json-schema.org/draft-07/schema",
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    }
)
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
#: Keywords whose values are data, not schemas: not searched for references.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "x-expected"})
#: Keywords newer than draft-07, which fastjsonschema does not know.
_NEWER_KEYWORDS = frozenset(
    {
        "prefixItems", "$defs", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
        "unevaluatedItems", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
        "minContains", "maxContains", "$anchor", "$vocabulary",
    }
)  # fmt: skip
#: Keywords whose value maps arbitrary names to schemas.
_SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}
)
_ROOT = "urn:cmdb:attribute-schema"


def _refuse_retrieval(uri: str):
    """The registry's retrieval: nothing outside the schema is ever fetched or read."""
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


#: Resolves only what the schema itself holds (and the bundled standard metaschemas).
SAFE_REGISTRY: Registry = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _error(message: str) -> ValidationError:
    return ValidationError({"attribute_schema": [message]})


def _too_deep(value: Any, limit: int) -> bool:
    """True when `value` nests more than `limit` levels of objects and arrays (iterative)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _walk(schema: Any):
    """Every object of a schema that is itself a (sub)schema: data keywords are skipped, and
    the values of name→schema maps (`properties`…) are schemas whatever their names
    (a property called `enum` is still searched)."""
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            yield item
            for key, value in item.items():
                if key in _SCHEMA_MAPS and isinstance(value, dict):
                    stack.extend(value.values())
                elif key not in _DATA_KEYWORDS:
                    stack.append(value)


def _outside_references(schema: Any) -> list[str]:
    """Problems that would make a schema reach outside itself, as messages."""
    problems = []
    for node in _walk(schema):
        for keyword in _REF_KEYWORDS:
            ref = node.get(keyword)
            if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
                problems.append(
                    f"{keyword} {ref!r} points outside the schema: only references inside it "
                    "(starting with '#') are allowed."
                )
        for keyword in ("$id", "id"):
            if isinstance(node.get(keyword), str):
                problems.append(f"{keyword} is not allowed: a CI type's schema stands alone.")
        meta = node.get("$schema")
        if meta is not None and (
            not isinstance(meta, str) or meta.rstrip("#") not in STANDARD_METASCHEMAS
        ):
            problems.append(f"$schema {meta!r} is not one of the standard JSON Schema drafts.")
    return problems


def _is_self_contained(schema: Any) -> bool:
    return not _outside_references(schema)


def _validator_class(schema: dict) -> type[jsonschema.protocols.Validator]:
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def check_attribute_schema(schema: Any) -> None:
    """Refuse, with a field error on `attribute_schema`, a schema a CI type may not have."""
    if not isinstance(schema, dict):
        raise _error("Must be a JSON object.")
    max_depth = _limit("CMDB_SCHEMA_MAX_DEPTH", MAX_SCHEMA_DEPTH)
    if _too_deep(schema, max_depth):
        raise _error(f"Nested deeper than {max_depth} levels.")
    max_bytes = _limit("CMDB_SCHEMA_MAX_BYTES", MAX_SCHEMA_BYTES)
    try:
        size = len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError, UnicodeError) as exc:
        raise _error("Not serialisable as JSON.") from exc
    if size > max_bytes:
        raise _error(f"Larger than {max_bytes} bytes ({size}).")
    problems = _outside_references(schema)
    if problems:
        raise ValidationError({"attribute_schema": problems[:10]})
    cls = _validator_class(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise _error(f"Not a valid JSON Schema: {exc.message}") from exc
    resolver = _registry_with(schema).resolver(base_uri=_ROOT)
    for node in _walk(schema):
        for keyword in _REF_KEYWORDS:
            if isinstance(node.get(keyword), str):
                try:
                    resolver.lookup(node[keyword])
                except Unresolvable as exc:
                    raise _error(
                        f"{keyword} {node[keyword]!r} points nowhere in the schema."
                    ) from exc


def _registry_with(schema: dict) -> Registry:
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    return SAFE_REGISTRY.with_resource(_ROOT, resource)


@functools.lru_cache(maxsize=256)
def full_validator(schema_json: str) -> jsonschema.protocols.Validator:
    """An interpreted validator that checks formats and resolves no remote reference."""
    schema = json.loads(schema_json)
    cls = _validator_class(schema)
    return cls(schema, registry=SAFE_REGISTRY, format_checker=cls.FORMAT_CHECKER)


def _needs_full_validator(value: Any) -> bool:
    """Newer keywords, `format` (fastjsonschema checks formats differently, `uri` loosely) or
    anything not self-contained: such schemas are validated by jsonschema alone."""
    for node in _walk(value):
        if _NEWER_KEYWORDS & node.keys() or "format" in node:
            return True
        meta = str(node.get("$schema", ""))
        if "2019-09" in meta or "2020-12" in meta:
            return True
    return not _is_self_contained(value)


@functools.lru_cache(maxsize=256)
def fast_validator(schema_json: str):
    """A compiled fastjsonschema validator, or None when the schema needs jsonschema."""
    import fastjsonschema

    schema = json.loads(schema_json)
    if _needs_full_validator(schema):
        return None
    try:
        # No handler is ever called (the schema is self-contained); every scheme refused anyway,
        # since fastjsonschema would urlopen() one it has no handler for.
        return fastjsonschema.compile(schema, handlers=_RefuseEveryScheme())
    except Exception:  # refused or not compilable: jsonschema validates alone
        return None


def _refuse_handler(uri: str):
    raise ValueError(f"Remote reference refused: {uri}")


class _RefuseEveryScheme(dict):
    """fastjsonschema handlers: a handler, which refuses, for every URI scheme."""

    def __contains__(self, scheme: object) -> bool:
        return True

    def __missing__(self, scheme: str):
        return _refuse_handler


def _validator_errors(validator: jsonschema.protocols.Validator, attributes: Any) -> list[str]:
    """Messages of everything wrong with `attributes`, at most 20, each prefixed by its path."""
    try:
        errors = sorted(validator.iter_errors(attributes), key=lambda e: list(e.absolute_path))
    except (Unresolvable, RecursionError):
        return ["The CI type's schema refers to something outside itself; fix the CI type."]
    messages = []
    for error in errors[:20]:
        where = "/".join(str(p) for p in error.absolute_path)
        messages.append(f"{where}: {error.message}" if where else error.message)
    return messages


# --- attributes of CIs ------------------------------------------------------------------------


def _validators(ci_type: CIType, schema: dict) -> tuple[Any, jsonschema.protocols.Validator]:
    """(fast, full) validators of a CI type's schema, remembered on the instance while its
    schema object stays the same (a bulk create validates thousands of items against it)."""
    cached = ci_type.__dict__.get("_attribute_validators")
    if cached is None or cached[0] is not schema:
        schema_json = json.dumps(schema, sort_keys=True)
        cached = (schema, fast_validator(schema_json), full_validator(schema_json))
        ci_type.__dict__["_attribute_validators"] = cached
    return cached[1], cached[2]


def validate_attribute_schema(schema: Any) -> None:
    """A CI type's attribute schema must be a self-contained, bounded, valid JSON Schema
    (see `check_attribute_schema`); raises a field error on `attribute_schema`."""
    check_attribute_schema(schema)


def attribute_errors(ci_type: CIType, attributes: Any) -> list[str]:
    """What is wrong with `attributes` for the CI type's schema (empty list: valid)."""
    if not isinstance(attributes, dict):
        return ["Must be a JSON object."]
    schema = ci_type.attribute_schema or {}
    if not schema:
        return []
    fast, full = _validators(ci_type, schema)
    if fast is not None:
        # Compiled validation first; the interpreted validator only to explain a failure.
        try:
            fast(attributes)
            return []
        except Exception:
            pass
    return _validator_errors(full, attributes)


def validate_attributes(ci_type: CIType, attributes: Any) -> None:
    """Validate `attributes` against the CI type's JSON Schema; raise a field error listing each problem."""
    if isinstance(attributes, dict):
        check_attribute_limits(attributes)
    messages = attribute_errors(ci_type, attributes)
    if messages:
        raise ValidationError({"attributes": messages})
