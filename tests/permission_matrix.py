"""A permission matrix for every route of a DRF router, generated from the router itself.

NetBox's `APIViewTestCases` are the model: each app lists its router, an object factory per
viewset and who may read and write, and gets one test per (route, caller) for

- anonymous: 401/403 everywhere;
- a user without any role: 403 everywhere;
- each role that may read but not write: reads 200, writes 403, nothing written;
- the managing role: reads 200, writes neither 401/403 nor a 5xx.

A new route is covered the moment it is registered: nothing here is written per endpoint.

Usage in a test module::

    MATRIX = Matrix(router=router, prefix="/api/v1/cmdb/", objects={"ci": make_ci, ...},
                    writers={roles.CMDB_MANAGER})
    pytestmark = pytest.mark.django_db

    @pytest.mark.parametrize("route", MATRIX.routes, ids=str)
    @pytest.mark.parametrize("caller", MATRIX.callers)
    def test_permissions(route, caller, make_user):
        MATRIX.check(route, caller, make_user)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from rest_framework.routers import SimpleRouter
from rest_framework.test import APIClient

from itsm import roles

ANONYMOUS = "anonymous"
NO_ROLE = "no role"

#: Standard viewset actions: (method, detail, is_write).
_STANDARD = {
    "list": ("get", False, False),
    "create": ("post", False, True),
    "retrieve": ("get", True, False),
    "update": ("put", True, True),
    "partial_update": ("patch", True, True),
    "destroy": ("delete", True, True),
}


@dataclass(frozen=True)
class Route:
    """One method on one URL of a viewset."""

    basename: str
    action: str
    method: str
    path: str  # relative to the matrix prefix; "{pk}" stands for the object's id
    detail: bool
    write: bool
    lookup: str = "pk"  # the object attribute the detail URL is addressed by

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.basename}.{self.action}"


def routes_of(router: SimpleRouter) -> list[Route]:
    """Every (method, URL) a router serves, standard actions and `@action`s alike."""
    found: list[Route] = []
    for prefix, viewset, basename in router.registry:
        base = f"{prefix}/" if prefix else ""
        lookup = getattr(viewset, "lookup_field", "pk")
        served = set(viewset.http_method_names)
        for action, (method, detail, write) in _STANDARD.items():
            if hasattr(viewset, action) and method in served:
                path = f"{base}{{pk}}/" if detail else base
                found.append(Route(basename, action, method, path, detail, write, lookup))
        for extra in viewset.get_extra_actions():
            for method, _handler in extra.mapping.items():
                if method in ("options", "head"):
                    continue
                path = (
                    f"{base}{{pk}}/{extra.url_path}/"
                    if extra.detail
                    else f"{base}{extra.url_path}/"
                )
                found.append(
                    Route(
                        basename,
                        extra.url_path,
                        method,
                        path,
                        extra.detail,
                        method != "get",
                        lookup,
                    )
                )
    return found


@dataclass
class Matrix:
    """Who may do what on one router's routes."""

    router: SimpleRouter
    prefix: str
    #: basename → a callable that makes an object to address detail routes (and returns it).
    objects: dict[str, Callable[[], Any]]
    #: roles that may write; everyone with a role reads unless `readers` narrows it.
    writers: set[str]
    #: basename → the roles that may read it, where fewer than all roles may.
    readers: dict[str, set[str]] = field(default_factory=dict)
    #: routes (as `str(route)`) whose body must be a JSON list rather than an object.
    list_bodies: set[str] = field(default_factory=set)
    #: routes (as `str(route)`) that need a query string, e.g. `{"GET ci.as-of": "at=…"}`.
    queries: dict[str, str] = field(default_factory=dict)
    #: routes (as `str(route)`) whose writers differ from `writers`.
    route_writers: dict[str, set[str]] = field(default_factory=dict)
    #: basename → roles that see only some rows (row-level filtering): on a detail route
    #: addressing another's object they get 404, and nothing is written.
    hidden: dict[str, set[str]] = field(default_factory=dict)

    @property
    def routes(self) -> list[Route]:
        return routes_of(self.router)

    @property
    def callers(self) -> list[str]:
        return [ANONYMOUS, NO_ROLE, *roles.ROLE_PERMISSIONS]

    def may(self, route: Route, caller: str) -> bool:
        if caller in (ANONYMOUS, NO_ROLE):
            return False
        if route.write:
            return caller in self.route_writers.get(str(route), self.writers)
        allowed = self.readers.get(route.basename)
        if allowed is None:  # every role that reads the project's data ("*.view_*")
            return roles.READ_ALL in roles.ROLE_PERMISSIONS.get(caller, [roles.READ_ALL])
        return caller in allowed

    def client(self, caller: str, make_user) -> APIClient:
        client = APIClient()
        if caller != ANONYMOUS:
            user = make_user(None if caller == NO_ROLE else caller)
            client.force_authenticate(user)
        return client

    def url(self, route: Route) -> str:
        if not route.detail:
            return self.prefix + route.path
        make = self.objects.get(route.basename)
        assert make is not None, f"the matrix needs an object factory for {route.basename}"
        return self.prefix + route.path.format(pk=getattr(make(), route.lookup))

    def check(self, route: Route, caller: str, make_user) -> None:
        """Call the route as `caller` and assert the matrix's answer."""
        client = self.client(caller, make_user)
        url = self.url(route)
        if str(route) in self.queries:
            url += "?" + self.queries[str(route)]
        body: Any = [] if str(route) in self.list_bodies else {}
        before = _row_counts() if route.write else None
        kwargs = {"format": "json"} if route.method in ("post", "put", "patch") else {}
        args = (url, body) if kwargs else (url,)
        response = getattr(client, route.method)(*args, **kwargs)
        status = response.status_code
        assert status < 500, f"{route} as {caller}: {status} {response.content[:300]!r}"
        hidden = route.detail and caller in self.hidden.get(route.basename, ())
        if caller == ANONYMOUS:
            assert status in (401, 403), f"{route} anonymous: {status}"
        elif hidden and self.may(route, caller):
            assert status == 404, f"{route} as {caller} (another's object): {status}"
        elif not self.may(route, caller):
            assert status == 403, f"{route} as {caller}: {status}"
        elif route.write:
            assert status not in (401, 403, 404, 405), f"{route} as {caller}: {status}"
        else:
            assert status == 200, f"{route} as {caller}: {status}"
        if before is not None and (
            caller in (ANONYMOUS, NO_ROLE) or not self.may(route, caller) or hidden
        ):
            assert _row_counts() == before, f"{route} as {caller} wrote something"


def _row_counts(tables: Iterable[str] | None = None) -> dict[str, int]:
    """Rows per project table: a refused call must leave every one as it was."""
    with connection.cursor() as cursor:
        names = tables or [
            t
            for t in connection.introspection.table_names(cursor)
            if t.split("_", 1)[0] in roles.PROJECT_APPS
        ]
        counts = {}
        for name in names:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(name)}")
            counts[name] = cursor.fetchone()[0]
    return counts
