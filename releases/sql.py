"""Plain SQL of the deployment engine on PostgreSQL, kept where bench/bench_releases.py shows
it pays: a step's claim and a state move, each with its event row, as one statement.

Through the ORM a move was a conditional UPDATE and an INSERT of its event, each compiled by
Django (≈ 1 ms of Python per statement) and a round trip; a claim was a SELECT with three
joins, the Meta orderings and an anti-join, then the move. Here each is one data-modifying
common table expression: the UPDATE's `RETURNING` feeds the event's `INSERT … SELECT`, so
zero rows moved writes no event, exactly as the ORM path (`transitions.transition`) does.
On SQLite the engine keeps the ORM path; tests/releases/test_sql.py compares both on
PostgreSQL (same rows, same events).

Every value is bound; the text holds only table and column names from the models' `_meta`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg
from django.conf import settings
from django.db import connection, models

from .choices import TARGET_UNFINISHED, StepState
from .models import Deployment, DeploymentEvent, DeploymentStep, DeploymentTarget, Release

STEP = DeploymentStep._meta.db_table
TARGET = DeploymentTarget._meta.db_table
DEPLOYMENT = Deployment._meta.db_table
RELEASE = Release._meta.db_table
EVENT = DeploymentEvent._meta.db_table

#: Target columns returned with a claim; the JSON snapshots stay deferred (loaded if used).
TARGET_FIELDS = ("id", "deployment_id", "wave_id", "ci_id", "state", "version", "started_at")
UNFINISHED = [StepState.PENDING, StepState.CLAIMED, StepState.RUNNING]


def available() -> bool:
    """Whether the plain-SQL path applies (PostgreSQL; SQLite keeps the ORM path)."""
    return connection.vendor == "postgresql"


#: psycopg prepares a statement by itself after this many runs: out of reach, so only ours,
#: asked for explicitly, are prepared (Django leaves it at None, which would forbid ours too).
NEVER_BY_COUNT = 2**31 - 1


class PreparingCursor(psycopg.Cursor):
    """A psycopg cursor that binds on the server and prepares what it executes."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        result = super().execute(query, params, prepare=prepare, binary=binary)
        if self._query is None:
            # A prepared statement sends no text: give Django's query log (debug tools, query
            # counts) the statement as written, placeholders and all.
            self._query = _Text(query.encode() if isinstance(query, str) else query)  # type: ignore[assignment]
        return result


class _Text:
    """What Django's `last_executed_query` reads of a psycopg query: its text."""

    def __init__(self, query: bytes) -> None:
        self.query = query


def _cursor():
    """A Django cursor (logged and counted like any other) over a `PreparingCursor`: each of
    the engine's statements is parsed and planned once per connection, as a claim's parse
    and plan cost more than its execution (≈ 0.5 ms against 0.05 ms, bench/README.md).
    Django's own cursors bind on the client and never prepare; nothing changes for them.
    `RELEASES_PREPARED_STATEMENTS = False` (env) turns it off, e.g. behind a PgBouncer in
    transaction mode, where a prepared statement may be on another server connection."""
    if not getattr(settings, "RELEASES_PREPARED_STATEMENTS", True):
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = NEVER_BY_COUNT
    _plan_once(raw)
    return connection._prepare_cursor(PreparingCursor(raw))  # type: ignore[attr-defined]


def _plan_once(raw: psycopg.Connection) -> None:
    """Have PostgreSQL plan each prepared statement once, for any values: by default it plans
    the first five runs for their values and then keeps doing so whenever its generic plan's
    estimate looks dearer, and planning a claim (≈ 1.9 ms at 10,000 targets) costs ten times
    its execution (bench/README.md). Only our statements are prepared on the server (Django's
    cursors bind on the client), so the session setting touches nothing else. Set outside a
    transaction, where it lasts for the session; inside one it is tried again next time
    (a rollback would undo it)."""
    if getattr(raw, "_itsm_plan_once", False):
        return
    raw.execute("SET plan_cache_mode = force_generic_plan")
    if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raw._itsm_plan_once = True  # type: ignore[attr-defined]


def _columns(model: type[models.Model], names: Iterable[str] | None = None) -> list[models.Field]:
    fields = [f for f in model._meta.concrete_fields]
    if names is None:
        return fields
    wanted = set(names)
    return [f for f in fields if f.attname in wanted]


def _load(model: type[models.Model], fields: Sequence[models.Field], values: Sequence[Any]):
    """A model instance from raw values (JSON decoded as the ORM would); fields not given are
    deferred, so Django loads them on first access."""
    decoded = [
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], decoded)


def _event_cte(source: str, deployment_col: str = "deployment_id", id_col: str = "id") -> str:
    return (
        f"INSERT INTO {EVENT} (deployment_id, at, kind, object_type, object_id, from_state, "
        f"to_state, message, data) SELECT {deployment_col}, %(now)s, 'transition', "
        f"%(object_type)s, {id_col}, %(from_state)s, %(to_state)s, %(message)s, %(data)s "
        f"FROM {source}"
    )


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name
    return field


def _json(model: type[models.Model], name: str, value: Any) -> Any:
    return _field(model, name).get_db_prep_save(value, connection)


# --- one move, with its event ---------------------------------------------------------------


def transition_row(
    model: type[models.Model],
    *,
    pk: int,
    state_field: str,
    object_type: str,
    froms: Sequence[str],
    from_state: str,
    to_state: str,
    version: int,
    updates: Mapping[str, Any],
    where: Mapping[str, Any],
    message: str,
    data: Mapping[str, Any] | None,
    now: dt.datetime,
    with_row: tuple[type[models.Model], Mapping[str, Any]] | None = None,
) -> bool:
    """`UPDATE … SET state, version + 1, updates WHERE id, version, state IN froms, where`
    and its event row, in one statement; with `with_row` (model, values), that row too (its
    fields' defaults and `auto_now_add` filled in as the ORM would). Returns whether the row
    moved."""
    meta = model._meta
    params: dict[str, Any] = {
        "pk": pk,
        "version": version,
        "froms": list(froms),
        "to_state": to_state,
        "from_state": from_state,
        "object_type": object_type,
        "message": message[:10_000],
        "data": _json(DeploymentEvent, "data", data or {}),
        "now": now,
    }
    sets = [f"{_field(model, state_field).column} = %(to_state)s", "version = version + 1"]
    for i, (name, value) in enumerate(updates.items()):
        field = _field(model, name)
        if isinstance(value, models.Model):  # a foreign key given as an instance
            value = value.pk
        params[f"u{i}"] = field.get_db_prep_save(value, connection)
        sets.append(f"{field.column} = %(u{i})s")
    conditions = [
        "id = %(pk)s",
        "version = %(version)s",
        f"{_field(model, state_field).column} = ANY(%(froms)s)",
    ]
    for i, (name, value) in enumerate(where.items()):
        field = _field(model, name)
        params[f"w{i}"] = field.get_db_prep_value(value, connection)
        conditions.append(f"{field.column} = %(w{i})s")
    deployment_col = "id" if model is Deployment else "deployment_id"
    sql = (
        f"WITH moved AS (UPDATE {meta.db_table} SET {', '.join(sets)} "
        f"WHERE {' AND '.join(conditions)} RETURNING id, {deployment_col} AS deployment_id), "
        f"event AS ({_event_cte('moved')}){_row_cte(with_row, params)} SELECT count(*) FROM moved"
    )
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.fetchone()[0])


def _row_cte(
    with_row: tuple[type[models.Model], Mapping[str, Any]] | None, params: dict[str, Any]
) -> str:
    """`, extra AS (INSERT INTO … SELECT … FROM moved)`: a row written only if the move is."""
    if with_row is None:
        return ""
    model, values = with_row
    instance = model(**values)
    columns = []
    for i, field in enumerate(f for f in model._meta.concrete_fields if not f.primary_key):
        value = field.pre_save(instance, add=True)
        params[f"r{i}"] = field.get_db_prep_save(value, connection)
        columns.append(field.column)
    placeholders = ", ".join(f"%(r{i})s" for i in range(len(columns)))
    return (
        f", extra AS (INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {placeholders} FROM moved)"
    )


# --- a step's claim -------------------------------------------------------------------------

_STEP_FIELDS = _columns(DeploymentStep)
_TARGET_FIELDS = _columns(DeploymentTarget, TARGET_FIELDS)
_DEPLOYMENT_FIELDS = _columns(Deployment)

_CLAIM = (
    "WITH {next_cte}claimed AS ("
    f"UPDATE {STEP} s SET state = %(to_state)s, version = s.version + 1, "
    "lease_owner = %(owner)s, lease_expires_at = %(lease)s, started_at = %(now)s "
    f"FROM {TARGET} t, {DEPLOYMENT} d, {RELEASE} r "
    "WHERE s.id = {step_id} AND s.state = %(from_state)s {attempt} "
    "AND t.id = s.target_id AND t.state = ANY(%(active_targets)s) "
    "AND d.id = s.deployment_id AND r.id = d.release_id AND ({phase_gate}) "
    f"AND NOT EXISTS (SELECT 1 FROM {STEP} e WHERE e.target_id = s.target_id "
    'AND e."order" < s."order" AND e.state = ANY(%(unfinished)s)) '
    "RETURNING "
    + ", ".join(f"s.{f.column} AS s_{f.column}" for f in _STEP_FIELDS)
    + ", "
    + ", ".join(f"t.{f.column} AS t_{f.column}" for f in _TARGET_FIELDS)
    + ", "
    + ", ".join(f"d.{f.column} AS d_{f.column}" for f in _DEPLOYMENT_FIELDS)
    + ", r.number AS r_number), "
    f"event AS ({_event_cte('claimed', 's_deployment_id', 's_id')}) {{select}}"
)
_BY_ID = "%(step)s"
#: The target's next pending step, whether or not it can be claimed now: the caller sends it a
#: message when it cannot (one statement instead of a failed claim and a look-up).
_NEXT_CTE = (
    f"next AS (SELECT n.id, n.attempt FROM {STEP} n WHERE n.target_id = %(target)s "
    'AND n.state = %(from_state)s ORDER BY n."order" LIMIT 1), '
)
_NEXT_OF_TARGET = "(SELECT id FROM next)"
_SELECT_CLAIMED = "SELECT * FROM claimed"
#: Other unfinished targets of the wave are counted up to this many (see `NextStep`).
WAVE_OTHERS_COUNTED = 64
_SELECT_NEXT_AND_CLAIMED = (
    "SELECT next.id, next.attempt, CASE WHEN next.id IS NULL THEN (SELECT count(*) FROM "
    f"(SELECT 1 FROM {TARGET} o WHERE o.wave_id = %(wave)s "
    "AND o.state = ANY(%(unfinished_targets)s) AND o.id <> %(target)s "
    # Ordered as the (wave, state) index is, so it reads that index: without, the planner
    # chose a sequential scan "stopping at 64 rows" that crossed every earlier wave first.
    "ORDER BY o.wave_id, o.state LIMIT %(others_counted)s) AS others) END, claimed.* "
    "FROM (SELECT 1) AS one LEFT JOIN next ON true LEFT JOIN claimed ON true"
)


class NextStep(NamedTuple):
    """What `claim_next_step` found for a target whose step just finished."""

    #: The target's next step, claimed.
    claimed: DeploymentStep | None
    #: (id, attempt) of the next pending step when it could not be claimed now.
    pending: tuple[int, int] | None
    #: No step pending: how many other targets of the wave were unfinished when this one's
    #: last step was recorded, counted up to `WAVE_OTHERS_COUNTED` (None: not counted).
    wave_others: int | None = None


def _phase_gate(claiming_for_phase: Mapping[str, Iterable[str]], params: dict[str, Any]) -> str:
    parts = []
    for i, (phase, statuses) in enumerate(sorted(claiming_for_phase.items())):
        params[f"phase{i}"], params[f"statuses{i}"] = phase, sorted(statuses)
        parts.append(f"(s.phase = %(phase{i})s AND d.status = ANY(%(statuses{i})s))")
    return " OR ".join(parts)


@dataclass(frozen=True)
class ClaimTerms:
    """What every claim writes and checks: the lease, the event's message, and which target
    states and deployment statuses (per step phase) let a step be claimed."""

    owner: str
    lease_until: dt.datetime
    now: dt.datetime
    active_targets: Iterable[str]
    claiming_for_phase: Mapping[str, Iterable[str]]
    message: str


def _run_claim(terms: ClaimTerms, which: Mapping[str, Any], **template: str) -> Any:
    """Run the claim statement shaped by `template` for `which` step; its row, or None."""
    params: dict[str, Any] = {
        **which,
        "owner": terms.owner[:200],
        "lease": terms.lease_until,
        "now": terms.now,
        "from_state": StepState.PENDING,
        "to_state": StepState.CLAIMED,
        "active_targets": list(terms.active_targets),
        "unfinished": UNFINISHED,
        "object_type": "step",
        "message": terms.message[:10_000],
        "data": _json(DeploymentEvent, "data", {}),
    }
    sql = _CLAIM.format(**template, phase_gate=_phase_gate(terms.claiming_for_phase, params))
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _claimed(row: Sequence[Any]) -> DeploymentStep:
    """The claimed step, its target and deployment (and the release's number) from a claim's
    row."""
    a, b = len(_STEP_FIELDS), len(_STEP_FIELDS) + len(_TARGET_FIELDS)
    c = b + len(_DEPLOYMENT_FIELDS)
    step = _load(DeploymentStep, _STEP_FIELDS, row[:a])
    target = _load(DeploymentTarget, _TARGET_FIELDS, row[a:b])
    deployment = _load(Deployment, _DEPLOYMENT_FIELDS, row[b:c])
    deployment.release = Release.from_db(
        connection.alias, ["id", "number"], [deployment.release_id, row[c]]
    )
    target.deployment = deployment
    step.target, step.deployment = target, deployment
    return step


def claim_step(*, step_id: int, attempt: int, terms: ClaimTerms) -> DeploymentStep | None:
    """Claim step `step_id` at `attempt` if it is claimable now: pending, its target active,
    its deployment's status letting its phase claim, no earlier step of the target
    unfinished. Returns the step with its target and deployment (and the release's number)
    loaded, or None."""
    row = _run_claim(
        terms,
        {"step": step_id, "attempt": attempt},
        next_cte="",
        step_id=_BY_ID,
        attempt="AND s.attempt = %(attempt)s",
        select=_SELECT_CLAIMED,
    )
    return None if row is None else _claimed(row)


def claim_next_step(*, target_id: int, wave_id: int, terms: ClaimTerms) -> NextStep:
    """Claim the next pending step of `target_id` as `claim_step` would, in one statement
    that also says which step that is when it cannot be claimed now, and, when the target
    has no pending step left, how many other targets of its wave (`wave_id`) are unfinished:
    the caller then knows whether its wave may be done without asking again."""
    row = _run_claim(
        terms,
        {
            "target": target_id,
            "wave": wave_id,
            "unfinished_targets": list(TARGET_UNFINISHED),
            "others_counted": WAVE_OTHERS_COUNTED,
        },
        next_cte=_NEXT_CTE,
        step_id=_NEXT_OF_TARGET,
        attempt="",
        select=_SELECT_NEXT_AND_CLAIMED,
    )
    if row[0] is None:
        return NextStep(None, None, row[2])
    if row[3] is None:  # the claimed step's columns are null: not claimable now
        return NextStep(None, (row[0], row[1]))
    return NextStep(_claimed(row[3:]), None)


# --- planner statistics ---------------------------------------------------------------------


def refresh_statistics(model: type[models.Model], added: int) -> bool:
    """ANALYZE the model's table after a bulk insert of `added` rows that autovacuum would
    count as a big change (50 rows + 10 % of the table, its own rule), so the claims that
    follow at once are planned on the table as it now is. Without it, a wave of thousands of
    steps inserted into a table the statistics still think empty gets plans that scan the
    whole deployment per claim (bench/README.md). Returns whether it ran."""
    if not available() or added <= 0:
        return False
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
        known = max(float(row[0]) if row else 0.0, 0.0)
        if added < 50 + 0.1 * known:
            return False
        cursor.execute(f"ANALYZE {table}")
    return True
