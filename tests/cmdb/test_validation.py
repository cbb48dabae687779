"""CI type schemas (issue 7 item 1), identity data (issue 6 part 1 item 3), built-in type keys
(issue 7 item 8), type services and initial statuses (issue 6 part 2 items 2 and 7)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.core.exceptions import ValidationError

from cmdb import services
from cmdb.choices import CIStatus
from cmdb.models import CIType, ConfigurationItem, HistoryEntry, RelationshipType
from itsm.exceptions import ApplicationError
from tests.factories import SYSTEM, CIFactory, CITypeFactory, link, server_type

pytestmark = pytest.mark.django_db

CI_TYPES = "/api/v1/cmdb/ci-types/"
RETIRING = services.ChangeContext(source="system", source_ref="tests", reason="end of life")
CIS = "/api/v1/cmdb/cis/"


# --- listeners that record whether the server reached out -------------------------------------


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection; it answers a minimal JSON
    schema over HTTP, or (silent=True) accepts and never answers."""

    def __init__(self, silent: bool = False):
        self.silent = silent
        self.contacted = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/schema.json"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.contacted.set()
            if self.silent:
                self.held.append(conn)  # never answers
                continue
            body = b'{"type": "object", "required": ["secret"]}'
            conn.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def silent_listener():
    server = Listener(silent=True)
    yield server
    server.close()


def _type_body(slug: str, schema) -> dict:
    return {"name": slug.title(), "slug": slug, "attribute_schema": schema}


# --- issue 7 item 1: schemas never reach outside ----------------------------------------------


@pytest.mark.parametrize("which", ["listener", "silent_listener"])
def test_a_remote_ref_is_refused_at_type_create_and_nothing_is_contacted(
    manager_api, request, which
):
    server = request.getfixturevalue(which)
    started = time.monotonic()
    response = manager_api.post(CI_TYPES, _type_body("remote", {"$ref": server.url}), format="json")
    assert response.status_code == 400, response.content
    assert "attribute_schema" in response.json()
    assert time.monotonic() - started < 5  # a listener that never answers does not hang the write
    assert not CIType.objects.filter(slug="remote").exists()
    time.sleep(0.3)
    assert not server.contacted.is_set()


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "file:///etc/passwd"},
        {"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd#/x"}}},
        {"$id": "http://127.0.0.1:9/", "type": "object"},
        {"$schema": "http://127.0.0.1:9/meta.json", "type": "object"},
        {"type": "object", "properties": {"a": {"$dynamicRef": "https://example.org/s"}}},
        {"$ref": "#/$defs/missing"},
        {"type": "object", "properties": {"enum": {"$ref": "gopher://127.0.0.1:9/x"}}},
        {"type": "object", "properties": {"default": {"$ref": "ftp://127.0.0.1:9/x"}}},
        {"type": 5},
        [],
    ],
)
def test_bad_schemas_are_refused_at_type_create(manager_api, schema):
    response = manager_api.post(CI_TYPES, _type_body("bad", schema), format="json")
    assert response.status_code == 400, response.content
    assert "passwd" not in response.content.decode().replace("file:///etc/passwd", "")
    assert not CIType.objects.filter(slug="bad").exists()


def _nested(depth: int) -> dict:
    schema: dict = {"type": "object"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def test_too_deep_and_too_big_schemas_are_refused(manager_api):
    deep = manager_api.post(CI_TYPES, _type_body("deep", _nested(25)), format="json")
    assert deep.status_code == 400
    assert "deeper" in str(deep.json())
    big_schema = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "x" * 100} for i in range(1000)},
    }
    big = manager_api.post(CI_TYPES, _type_body("big", big_schema), format="json")
    assert big.status_code == 400
    assert "Larger than" in str(big.json()["attribute_schema"])
    assert not CIType.objects.filter(slug__in=["deep", "big"]).exists()


def test_a_remote_ref_is_refused_at_type_update(manager_api, listener):
    ci_type = CITypeFactory(slug="kept", attribute_schema={"type": "object"})
    response = manager_api.patch(
        f"{CI_TYPES}kept/", {"attribute_schema": {"$ref": listener.url}}, format="json"
    )
    assert response.status_code == 400
    ci_type.refresh_from_db()
    assert ci_type.attribute_schema == {"type": "object"}
    assert not listener.contacted.is_set()


def test_a_stored_remote_ref_is_never_fetched_when_validating(listener, silent_listener):
    """A schema written before the check (or behind it) still fetches nothing."""
    for server in (listener, silent_listener):
        ci_type = CITypeFactory(slug=f"old-{server.port}")
        CIType.objects.filter(pk=ci_type.pk).update(attribute_schema={"$ref": server.url})
        ci_type.refresh_from_db()
        started = time.monotonic()
        with pytest.raises(ValidationError) as err:
            CIFactory(ci_type=ci_type, attributes={})
        assert time.monotonic() - started < 5
        assert "outside itself" in str(err.value)
    time.sleep(0.3)
    assert not listener.contacted.is_set() and not silent_listener.contacted.is_set()


def test_an_internal_ref_works(manager_api):
    schema = {
        "type": "object",
        "$defs": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
        "properties": {"port": {"$ref": "#/$defs/port"}},
    }
    assert manager_api.post(CI_TYPES, _type_body("svc", schema), format="json").status_code == 201
    ok = manager_api.post(
        CIS, {"name": "a", "ci_type": "svc", "attributes": {"port": 443}}, format="json"
    )
    assert ok.status_code == 201, ok.content
    bad = manager_api.post(
        CIS, {"name": "b", "ci_type": "svc", "attributes": {"port": 0}}, format="json"
    )
    assert bad.status_code == 400
    assert "port" in str(bad.json()["attributes"])


def test_a_draft7_schema_with_definitions_uses_the_fast_path_and_still_validates():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"n": {"type": "integer"}},
        "type": "object",
        "properties": {"n": {"$ref": "#/definitions/n"}},
    }
    ci_type = services.ci_type_create(context=SYSTEM, name="D7", slug="d7", attribute_schema=schema)
    CIFactory(ci_type=ci_type, attributes={"n": 1})
    with pytest.raises(ValidationError):
        CIFactory(ci_type=ci_type, attributes={"n": "one"})


# --- JSON Schema formats -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema_extra",
    [{}, {"$schema": "http://json-schema.org/draft-07/schema#"}],  # 2020-12 and a fast-path draft
)
def test_formats_are_checked(schema_extra):
    schema = {
        **schema_extra,
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "mail": {"type": "string", "format": "email"},
        },
    }
    ci_type = services.ci_type_create(
        context=SYSTEM, name="App", slug="app", attribute_schema=schema
    )
    with pytest.raises(ValidationError) as err:
        CIFactory(ci_type=ci_type, attributes={"url": "not a url"})
    assert "url" in str(err.value)
    with pytest.raises(ValidationError):
        CIFactory(ci_type=ci_type, attributes={"mail": "nobody"})
    CIFactory(ci_type=ci_type, attributes={"url": "https://intranet.example.org/app"})


# --- identity data -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostname",
    [
        "web 01",
        "<script>alert(1)</script>",
        "pc_test",
        "-web",
        "web-.example.org",
        "a" * 64 + ".example.org",
        ("a" * 60 + ".") * 5,
        "web..example.org",
    ],
)
def test_bad_host_names_are_refused(manager_api, hostname):
    server_type()
    response = manager_api.post(
        CIS,
        {"name": "x", "ci_type": "test-server", "hostname": hostname, "attributes": {"os": "L"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "hostname" in response.json()
    assert not ConfigurationItem.objects.exists()


@pytest.mark.parametrize("hostname", ["web-01", "WEB-01.Example.ORG.", "10.0.0.1", "a" * 63])
def test_good_host_names_are_kept_lower_case(hostname):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "L"}, hostname=hostname)
    assert ci.hostname == hostname.lower().rstrip(".")


def test_host_names_are_unique_ignoring_case_among_cis_in_use(manager_api):
    server_type()
    body = {"ci_type": "test-server", "attributes": {"os": "L"}}
    assert (
        manager_api.post(
            CIS, {**body, "name": "a", "hostname": "fra-hv-01"}, format="json"
        ).status_code
        == 201
    )
    again = manager_api.post(CIS, {**body, "name": "b", "hostname": "FRA-HV-01"}, format="json")
    assert again.status_code == 400
    assert "host name" in str(again.json()["hostname"])
    in_bulk = manager_api.post(
        CIS,
        [{**body, "name": "c", "hostname": "x1"}, {**body, "name": "d", "hostname": "fra-hv-01"}],
        format="json",
    )
    assert in_bulk.status_code == 400
    assert "hostname" in str(in_bulk.json()["errors"])
    assert ConfigurationItem.objects.count() == 1


def test_a_disposed_ci_frees_its_host_name():
    ci = CIFactory(ci_type=server_type(), attributes={"os": "L"}, hostname="old")
    for status in ("received", "disposed"):
        services.ci_transition(context=RETIRING, ci_id=ci.pk, to_status=status)
    CIFactory(ci_type=ci.ci_type, attributes={"os": "L"}, hostname="old")
    assert ConfigurationItem.objects.filter(hostname="old").count() == 2


def test_changing_to_a_taken_host_name_is_refused():
    a = CIFactory(ci_type=server_type(), attributes={"os": "L"}, hostname="a")
    b = CIFactory(ci_type=a.ci_type, attributes={"os": "L"}, hostname="b")
    with pytest.raises(ValidationError) as err:
        services.ci_update(
            context=SYSTEM, ci_id=b.pk, data={"hostname": "A"}, expected_version=None
        )
    assert "hostname" in err.value.message_dict


def test_the_database_refuses_a_duplicate_host_name_too():
    from django.db import IntegrityError, transaction

    a = CIFactory(ci_type=server_type(), attributes={"os": "L"}, hostname="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        ConfigurationItem.objects.create(name="b", ci_type=a.ci_type, hostname="DUP")


@pytest.mark.parametrize(
    "value", ["not-a-uuid", "4c4c4544-0042", "4BDRGGFE-0046-4710-8047-B2C04F503732"]
)
def test_uuids_must_be_uuids(manager_api, value):
    server_type()
    response = manager_api.post(
        CIS,
        {"name": "x", "ci_type": "test-server", "uuid": value, "attributes": {"os": "L"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "uuid" in response.json()


def test_uuids_are_normalised():
    ci = CIFactory(
        ci_type=server_type(), attributes={"os": "L"}, uuid="4C4C45440042351080 52B4C04F4B4D32"
    )
    assert ci.uuid == "4c4c4544-0042-3510-8052-b4c04f4b4d32"


def test_an_old_row_with_a_bad_host_name_can_still_be_edited():
    ci = CIFactory(ci_type=server_type(), attributes={"os": "L"})
    ConfigurationItem.objects.filter(pk=ci.pk).update(hostname="pc_test", uuid="bad")
    services.ci_update(context=SYSTEM, ci_id=ci.pk, data={"name": "renamed"}, expected_version=None)
    assert ConfigurationItem.objects.get(pk=ci.pk).name == "renamed"


# --- initial statuses and status records --------------------------------------------------------


@pytest.mark.parametrize("status", [CIStatus.DISPOSED, CIStatus.UNDER_REPAIR])
def test_a_ci_cannot_start_disposed_or_under_repair(manager_api, status):
    server_type()
    one = manager_api.post(
        CIS,
        {"name": "x", "ci_type": "test-server", "status": status, "attributes": {"os": "L"}},
        format="json",
    )
    assert one.status_code == 400 and "status" in one.json()
    with pytest.raises(ValidationError):
        CIFactory(
            ci_type=CIType.objects.get(slug="test-server"), attributes={"os": "L"}, status=status
        )
    with pytest.raises(ApplicationError):
        services.ci_bulk_create(
            context=SYSTEM,
            items=[
                {"name": "y", "ci_type": CIType.objects.get(slug="test-server"), "status": status}
            ],
        )
    assert not ConfigurationItem.objects.exists()


@pytest.mark.parametrize("status", ["ordered", "received", "under_test", "production"])
def test_allowed_initial_statuses(status):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "L"}, status=status)
    assert ci.status == status


def test_one_status_record_per_move():
    ci = CIFactory(ci_type=server_type(), attributes={"os": "L"})
    moves = ["received", "under_test", "production", "under_repair", "production", "disposed"]
    for status in moves:
        services.ci_transition(context=RETIRING, ci_id=ci.pk, to_status=status)
    with pytest.raises(ApplicationError):
        services.ci_transition(context=SYSTEM, ci_id=ci.pk, to_status="production")
    records = list(ci.status_changes.order_by("at", "id").values_list("from_status", "to_status"))
    assert records == list(zip(["ordered", *moves[:-1]], moves, strict=True))


def test_the_database_refuses_an_unknown_status():
    from django.db import IntegrityError, transaction

    ci = CIFactory(ci_type=server_type(), attributes={"os": "L"})
    with pytest.raises(IntegrityError), transaction.atomic():
        ConfigurationItem.objects.filter(pk=ci.pk).update(status="lost")


# --- deleting a CI: its neighbours record the links that went with it ---------------------------


def test_deleting_a_ci_records_the_removed_links_on_each_neighbour():
    import datetime as dt

    from django.utils import timezone

    from cmdb import selectors

    t = server_type()
    host = CIFactory(ci_type=t, attributes={"os": "L"}, name="host")
    vm = CIFactory(ci_type=t, attributes={"os": "L"}, name="vm")
    app = CIFactory(ci_type=t, attributes={"os": "L"}, name="app")
    to_vm = link(host, vm, "hosts")
    to_host = link(app, host, "depends")
    before = timezone.now()
    time.sleep(0.01)
    services.ci_delete(context=SYSTEM, ci_id=host.pk)

    for neighbour, rel in ((vm, to_vm), (app, to_host)):
        entry = HistoryEntry.objects.filter(ci=neighbour).order_by("-at", "-id").first()
        assert entry.kind == HistoryEntry.Kind.RELATIONSHIP
        assert [r["id"] for r in entry.changes["removed"]] == [rel.pk]
        assert selectors.ci_as_of(neighbour, before).relationships[0]["id"] == rel.pk
        assert (
            selectors.ci_as_of(neighbour, timezone.now() + dt.timedelta(seconds=1)).relationships
            == []
        )


# --- built-in types found by key -----------------------------------------------------------------


def test_agents_find_the_server_type_after_its_slug_is_renamed(manager_api):
    from tests.agents.conftest import make_agent, native_report
    from tests.agents.test_reconcile import submit

    server = CIType.objects.get(builtin_key="server")
    response = manager_api.patch(f"{CI_TYPES}{server.slug}/", {"slug": "srv"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["builtin_key"] == "server"
    report = submit(make_agent(), native_report())
    assert report.status == "processed", report.error
    assert ConfigurationItem.objects.get().ci_type_id == server.pk
    refused = manager_api.delete(f"{CI_TYPES}srv/")
    assert refused.status_code == 409 and refused.json()["builtin_key"] == "server"


# --- type services -------------------------------------------------------------------------------


def test_a_schema_change_that_existing_cis_fail_is_refused(manager_api):
    ci_type = CITypeFactory(slug="box", attribute_schema={"type": "object"})
    for i in range(7):
        CIFactory(ci_type=ci_type, name=f"box-{i}", attributes={"size": "big"})
    response = manager_api.patch(
        f"{CI_TYPES}box/",
        {"attribute_schema": {"type": "object", "properties": {"size": {"type": "integer"}}}},
        format="json",
    )
    assert response.status_code == 400
    messages = response.json()["attribute_schema"]
    assert "7 CI(s)" in messages[0]
    assert len(messages) == 1 + services.REVALIDATION_EXAMPLES
    assert "box-0" in messages[1]
    ci_type.refresh_from_db()
    assert ci_type.attribute_schema == {"type": "object"}
    fine = manager_api.patch(
        f"{CI_TYPES}box/",
        {"attribute_schema": {"type": "object", "properties": {"size": {"type": "string"}}}},
        format="json",
    )
    assert fine.status_code == 200


def test_types_in_use_cannot_be_deleted(manager_api):
    ci_type = CITypeFactory(slug="used", attribute_schema={})
    a = CIFactory(ci_type=ci_type)
    b = CIFactory(ci_type=ci_type)
    link(a, b, "feeds")
    response = manager_api.delete(f"{CI_TYPES}used/")
    assert response.status_code == 409
    assert response.json()["in_use"] == {"cis": 2}
    response = manager_api.delete("/api/v1/cmdb/relationship-types/feeds/")
    assert response.status_code == 409
    assert response.json()["in_use"] == {"relationships": 1}
    unused = CITypeFactory(slug="unused")
    assert manager_api.delete(f"{CI_TYPES}unused/").status_code == 204
    assert not CIType.objects.filter(pk=unused.pk).exists()


def test_type_changes_are_recorded_with_their_context(manager_api, caplog):
    with caplog.at_level("INFO", logger="cmdb.audit"):
        manager_api.post(
            "/api/v1/cmdb/relationship-types/",
            {
                "name": "Feeds",
                "slug": "feeds",
                "forward_label": "feeds",
                "reverse_label": "is fed by",
            },
            format="json",
        )
        manager_api.patch(
            "/api/v1/cmdb/relationship-types/feeds/", {"forward_label": "supplies"}, format="json"
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "cmdb.audit"]
    assert len(lines) == 2
    assert '"action": "updated"' in lines[1] and "supplies" in lines[1]
    assert manager_api.user.username in lines[1] and '"source": "api"' in lines[1]
    assert RelationshipType.objects.get(slug="feeds").forward_label == "supplies"


def test_read_only_users_cannot_write_types(readonly_api):
    response = readonly_api.post(CI_TYPES, _type_body("nope", {}), format="json")
    assert response.status_code == 403
    with pytest.raises(ApplicationError):
        services.ci_type_create(
            context=services.ChangeContext(actor=readonly_api.user), name="N", slug="n"
        )


# --- admin ---------------------------------------------------------------------------------------


def test_the_admin_refuses_a_remote_ref_and_writes_types_through_the_service(
    admin_client, listener
):
    body = {
        "name": "Remote",
        "slug": "remote",
        "description": "",
        "attribute_schema": "",
        "impact_direction": "downstream",
    }
    body["attribute_schema"] = f'{{"$ref": "{listener.url}"}}'
    response = admin_client.post("/admin/cmdb/citype/add/", body)
    assert response.status_code == 200  # the form again, with the error
    assert b"points outside the schema" in response.content
    assert not CIType.objects.filter(slug="remote").exists()
    body["attribute_schema"] = '{"type": "object"}'
    assert admin_client.post("/admin/cmdb/citype/add/", body).status_code == 302
    ci_type = CIType.objects.get(slug="remote")
    CIFactory(ci_type=ci_type, attributes={"size": "big"})
    body["attribute_schema"] = '{"type": "object", "properties": {"size": {"type": "integer"}}}'
    response = admin_client.post(f"/admin/cmdb/citype/{ci_type.pk}/change/", body)
    assert response.status_code == 200
    assert b"would no longer validate" in response.content
    ci_type.refresh_from_db()
    assert ci_type.attribute_schema == {"type": "object"}
    time.sleep(0.3)
    assert not listener.contacted.is_set()


# --- the migration keeps working on a database with duplicate host names -----------------------


@pytest.mark.django_db(transaction=True)  # reference data comes back through conftest
def test_the_migration_clears_duplicate_host_names_and_records_it():
    from django.db import connection as conn
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(conn)
    executor.migrate(executor.loader.graph.leaf_nodes())  # whatever a test before left
    executor = MigrationExecutor(conn)
    executor.migrate([("cmdb", "0009_ci_page_by_class")])
    old = executor.loader.project_state([("cmdb", "0009_ci_page_by_class")]).apps
    ci_model = old.get_model("cmdb", "ConfigurationItem")
    type_model = old.get_model("cmdb", "CIType")
    ci_type = type_model.objects.create(name="Legacy", slug="legacy")
    first = ci_model.objects.create(name="a", ci_type=ci_type, hostname="dup")
    second = ci_model.objects.create(name="b", ci_type=ci_type, hostname="DUP")
    gone = ci_model.objects.create(name="c", ci_type=ci_type, hostname="dup", status="disposed")

    executor = MigrationExecutor(conn)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    hosts = dict(ConfigurationItem.objects.values_list("pk", "hostname"))
    assert hosts[first.pk] == "dup" and hosts[second.pk] == "" and hosts[gone.pk] == "dup"
    entry = HistoryEntry.objects.get(ci_id=second.pk)
    assert entry.changes == {"hostname": {"old": "DUP", "new": ""}}
    assert CIType.objects.get(slug="server").builtin_key == "server"


# --- the CSV import's dry run says what the real run would refuse -------------------------------


def test_a_csv_dry_run_refuses_bad_identities_and_initial_statuses(cmdb_manager):
    from cmdb import imports
    from cmdb.choices import ChangeSource
    from cmdb.history import ChangeContext

    server_type()
    data = "\n".join(
        [
            "name,ci_type,status,hostname,uuid,attr:os",
            "a,test-server,,web 01,,L",
            "b,test-server,,,not-a-uuid,L",
            "c,test-server,disposed,,,L",
            "d,test-server,production,good-host,,L",
        ]
    ).encode()
    context = ChangeContext(actor=cmdb_manager, source=ChangeSource.IMPORT)
    result = imports.import_csv(context=context, kind="cis", data=data, dry_run=True)
    errors = {item["row"]: item["errors"] for item in result.row_errors}
    assert set(errors) == {2, 3, 4}
    assert "hostname" in errors[2] and "uuid" in errors[3] and "status" in errors[4]


def test_the_schema_limits_are_settings(settings):
    settings.CMDB_SCHEMA_MAX_DEPTH = 3
    with pytest.raises(ValidationError):
        services.validate_attribute_schema(_nested(3))
    settings.CMDB_SCHEMA_MAX_DEPTH = 20
    settings.CMDB_SCHEMA_MAX_BYTES = 100
    with pytest.raises(ValidationError):
        services.validate_attribute_schema({"type": "object", "description": "x" * 100})
    settings.CMDB_SCHEMA_MAX_BYTES = 64 * 1024
    services.validate_attribute_schema(_nested(3))


@pytest.mark.parametrize("scheme", ["http", "ftp", "gopher", "made-up"])
def test_the_compiled_validator_never_fetches_whatever_the_scheme(listener, scheme):
    """Defence in depth: even given a remote reference directly, fastjsonschema (which would
    urlopen() a scheme it has no handler for) resolves nothing."""
    import json

    from cmdb import schemas

    url = listener.url.replace("http", scheme, 1)
    schema = {"type": "object", "properties": {"a": {"$ref": url}}}
    assert schemas.fast_validator(json.dumps(schema)) is None
    import fastjsonschema

    with pytest.raises(ValueError):
        fastjsonschema.compile(schema, handlers=schemas._RefuseEveryScheme())
    time.sleep(0.3)
    assert not listener.contacted.is_set()
