"""Matching a report to a CI, and whether its key may update that CI.

`decide` is the rule of the public contract: a key updates only the CI it is bound to; its
first report of a machine the CMDB does not know creates the CI (and binds it); anything else
is held (`ReportHeld`) until a CMDB Manager approves or refuses the binding (`binding`).
Matching is by the configured rules in order (UUID in either SMBIOS byte order, serial number,
the agent's device id, host name *and* MAC; a host name alone never matches), identifiers
locked first (PostgreSQL advisory locks) so two reports of one new machine create one CI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Q, Value
from django.db.models.functions import Upper

from cmdb.models import ConfigurationItem
from itsm.exceptions import ApplicationError

from . import sql
from .choices import COLLECTED_CI_TYPE_SLUGS, COLLECTED_ITEM_TYPES
from .inventory.identity import normalize_manufacturer, normalize_serial, uuid_variants
from .models import Agent, InventoryReport

DEFAULT_MATCH_RULES = ("uuid", "serial_number", "device_id", "hostname_mac")


class IdentityMismatch(ApplicationError):
    """A key may not report this device at all (a plain key reporting a network device)."""


@dataclass
class Hold:
    """Why a report must wait for a CMDB Manager: the CI it describes and how it matched."""

    ci: ConfigurationItem
    reason: str
    matched_by: str
    weak: bool = False
    collected: bool = False
    candidates: list[int] = field(default_factory=list)

    def message(self, agent: Agent) -> str:
        return f"Report of key {agent.key_id} held: {self.reason}"

    def detail(self, agent: Agent, report: InventoryReport) -> dict[str, Any]:
        return {
            "agent": agent.key_id,
            "agent_id": agent.pk,
            "report": report.pk,
            "reason": self.reason,
            "matched_by": self.matched_by,
            "weak": self.weak,
            "collected": self.collected,
            "bound_ci": agent.ci_id,
            "candidates": self.candidates,
        }


class ReportHeld(Exception):
    """The report changes nothing until a CMDB Manager approves or refuses the binding."""

    def __init__(self, hold: Hold):
        super().__init__(hold.reason)
        self.hold = hold


def _lock_identities(keys: dict[str, Any]) -> None:
    """Serialise concurrent reports of the same machine (PostgreSQL; SQLite writes are serial)."""
    if connection.vendor != "postgresql":
        return
    tokens = sorted(
        {f"uuid:{u}" for u in keys["uuids"]}
        | ({f"serial:{keys['serial'].upper()}"} if keys["serial"] else set())
        | ({f"device:{keys['device_id']}"} if keys["device_id"] else set())
        | ({f"host:{keys['hostname']}"} if keys["hostname"] else set())
    )
    sql.lock_tokens(tokens)


def _rule_query(rule: str, keys: dict[str, Any]) -> Q | None:
    if rule == "uuid" and (keys["uuids"] or keys["serial_uuids"]):
        return Q(uuid__in=keys["uuids"] | keys["serial_uuids"])
    if rule == "serial_number" and keys["serial"]:
        return Q(serial_upper=keys["serial"].upper())
    if rule == "device_id" and keys["device_id"]:
        return Q(inventory_state__device_id=keys["device_id"])
    if rule == "hostname_mac" and keys["hostname"] and keys["macs"]:
        return Q(hostname=keys["hostname"], interfaces__mac__in=keys["macs"])
    return None


def _candidates(keys: dict[str, Any]) -> tuple[list[str], dict[str, set[int]]]:
    """The rules that apply to these keys, in order, and the CI ids each designates."""
    rules = getattr(settings, "AGENT_MATCH_RULES", DEFAULT_MATCH_RULES)
    queries = [(rule, query) for rule in rules if (query := _rule_query(rule, keys)) is not None]
    if not queries:
        return [], {}
    # Every rule in one round trip, ids only (narrow, no sort): a new machine matches nothing.
    base = ConfigurationItem.objects.annotate(serial_upper=Upper("serial_number")).order_by()
    parts = [
        base.filter(query).values_list(Value(rule, output_field=CharField()), "pk")
        for rule, query in queries
    ]
    found: dict[str, set[int]] = {rule: set() for rule, _ in queries}
    for rule, pk in parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]:
        found[rule].add(pk)
    return [rule for rule, _ in queries], found


def find_ci(keys: dict[str, Any]) -> tuple[ConfigurationItem | None, str]:
    """The CI the identity keys designate, by the first rule that designates exactly one."""
    rules, found = _candidates(keys)
    for rule in rules:
        if len(found[rule]) == 1:
            (pk,) = found[rule]
            return ConfigurationItem.objects.select_related("ci_type").get(pk=pk), rule
    return None, ""


def _other_ci_with_identity(keys: dict[str, Any], ci_id: int) -> int | None:
    """The id of another CI holding one of these UUIDs or this serial number (any one will do:
    no ordering, so PostgreSQL stops at the first index hit)."""
    query = Q()
    if keys["uuids"]:
        query |= Q(uuid__in=keys["uuids"])
    if keys["serial"]:
        query |= Q(serial_upper=keys["serial"].upper())
    if not query:
        return None
    found = list(
        ConfigurationItem.objects.annotate(serial_upper=Upper("serial_number"))
        .filter(query)
        .exclude(pk=ci_id)
        .order_by()
        .values_list("pk", flat=True)[:1]
    )
    return found[0] if found else None


def _designating_other(keys: dict[str, Any], ci_id: int) -> tuple[int, str] | None:
    """Another CI that these keys designate strongly (a UUID, or a serial number with the same
    manufacturer), with the rule; one query, no ordering."""
    query = Q()
    if keys["uuids"]:
        query |= Q(uuid__in=keys["uuids"])
    if keys["serial"] and keys["manufacturer"]:
        query |= Q(
            serial_upper=keys["serial"].upper(),
            attributes__manufacturer__iexact=keys["manufacturer"],
        )
    if not query:
        return None
    found = list(
        ConfigurationItem.objects.annotate(serial_upper=Upper("serial_number"))
        .filter(query)
        .exclude(pk=ci_id)
        .order_by()
        .values_list("pk", "uuid")[:1]
    )
    if not found:
        return None
    pk, uuid = found[0]
    return pk, "uuid" if uuid and uuid.lower() in keys["uuids"] else "serial_number"


def _contradicts(ci: ConfigurationItem, keys: dict[str, Any]) -> bool:
    """Every identifier both the CI and the report carry differs (and there is at least one):
    the report describes another machine. One differing while another agrees is a hardware
    change (a new disk controller, a replaced board), not another machine."""
    compared = differing = 0
    ci_uuids = uuid_variants(ci.uuid)
    if ci_uuids and keys["uuids"]:
        compared += 1
        differing += not (ci_uuids & keys["uuids"])
    if normalize_serial(ci.serial_number) and keys["serial"]:
        compared += 1
        differing += ci.serial_number.upper() != keys["serial"].upper()
    return compared > 0 and differing == compared


def _is_weak(ci: ConfigurationItem, rule: str, keys: dict[str, Any]) -> bool:
    """A serial number matched without the same manufacturer on both sides is a weak match."""
    if rule != "serial_number":
        return False
    manufacturer = normalize_manufacturer((ci.attributes or {}).get("manufacturer"))
    return not (manufacturer and manufacturer == keys["manufacturer"])


def _has_bound_key(ci: ConfigurationItem, agent: Agent) -> bool:
    return Agent.objects.filter(ci=ci).exclude(pk=agent.pk).exclude(status="revoked").exists()


def decide(
    agent: Agent, keys: dict[str, Any], normalized: dict
) -> tuple[ConfigurationItem | None, str]:
    """The CI this report may update (None: create one), or raise ReportHeld.

    * A bound key updates its CI, unless its report designates another CI (UUID, or serial
      with manufacturer) or contradicts every identifier of its CI: held.
    * An unbound key whose report matches no CI creates one (and is then bound to it); one
      matching any CI, strongly or weakly (a serial number without its manufacturer), or several
      CIs at once, is held: binding a key to an existing CI is a CMDB Manager's decision.
    * A collector reporting a device without an agent of its own (a network device, a printer)
      updates the CI it strongly matches if that CI is of such a class and no other live key is
      bound to it, else creates one; it is bound to none. Anything else it reports is held.
      What a collector reports about a computer is treated as its own machine's report.
    * A host name alone matches nothing (several machines share `agent1`): a new CI.
    """
    collected = normalized.get("item_type") in COLLECTED_ITEM_TYPES
    if collected and not agent.is_collector:
        raise IdentityMismatch(
            f"Key {agent.key_id} is not a collector's: it may not report a "
            f"{normalized.get('item_type')}."
        )
    if agent.ci_id and not collected:
        bound = ConfigurationItem.objects.select_related("ci_type").get(pk=agent.ci_id)
        if not (uuid_variants(bound.uuid) & keys["uuids"]):
            other = _designating_other(keys, bound.pk)
            if other is not None:
                raise ReportHeld(
                    Hold(
                        ci=ConfigurationItem.objects.get(pk=other[0]),
                        reason=f"the key is bound to CI {bound.pk} but reported the "
                        f"{other[1].replace('_', ' ')} of CI {other[0]}.",
                        matched_by=other[1],
                    )
                )
        if _contradicts(bound, keys):
            raise ReportHeld(
                Hold(
                    ci=bound,
                    reason=f"the key is bound to CI {bound.pk} but reported a machine whose "
                    "identifiers all differ from it.",
                    matched_by="bound key",
                )
            )
        return bound, "bound key"

    _lock_identities(keys)
    rules, found = _candidates(keys)
    designated = next((rule for rule in rules if len(found[rule]) == 1), None)
    if designated is None:
        candidates = sorted(set().union(*found.values())) if found else []
        if not candidates:
            return None, ""
        raise ReportHeld(
            Hold(
                ci=ConfigurationItem.objects.get(pk=candidates[0]),
                reason=f"the report matches several CIs ({', '.join(map(str, candidates))}).",
                matched_by="ambiguous",
                collected=collected,
                candidates=candidates,
            )
        )
    (pk,) = found[designated]
    ci = ConfigurationItem.objects.select_related("ci_type").get(pk=pk)
    weak = _is_weak(ci, designated, keys)
    if collected and not weak and ci.ci_type.slug in COLLECTED_CI_TYPE_SLUGS:
        if not _has_bound_key(ci, agent):
            return ci, designated
        reason = f"CI {ci.pk} is bound to another key; a collector does not overwrite it."
    elif collected:
        reason = (
            f"the report matches CI {ci.pk} only by its serial number (no same manufacturer)."
            if weak
            else f"the report matches CI {ci.pk}, a {ci.ci_type.slug}, not a collected device."
        )
    elif weak:
        reason = (
            f"an unbound key reported the serial number of CI {ci.pk} without the same "
            "manufacturer (a weak match)."
        )
    else:
        reason = f"an unbound key reported a machine the CMDB knows as CI {ci.pk}."
    raise ReportHeld(
        Hold(ci=ci, reason=reason, matched_by=designated, weak=weak, collected=collected)
    )
