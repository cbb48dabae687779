"""Shared fixtures: users in each role, API clients, eager Celery by default."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from itsm import roles

os.environ.setdefault(
    "DJANGO_ALLOW_ASYNC_UNSAFE", "true"
)  # playwright's sync API runs an event loop


@pytest.fixture(autouse=True)
def _real_clock_after_each_test():
    """A test that leaves `django.utils.timezone.now` replaced fails, and the real clock is put
    back: left frozen, it stopped every later test's leases from expiring in this process (the
    release crash tests waited forever for the reconciler). Freeze with `tests.clock.frozen`."""
    yield
    from tests.clock import restore_real_now

    left = restore_real_now()
    if left is not None:
        pytest.fail(f"the test left django.utils.timezone.now replaced by {left!r}")


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Run tasks in-process unless a test asks for a real worker."""
    from itsm.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = previous


def restore_reference_data() -> None:
    """Re-create what migrations seed (CI classes, relationship types, field owners, roles):
    a transactional test's flush empties every table, whichever order tests run in."""
    import importlib

    from django.apps import apps

    for module in (
        "cmdb.migrations.0002_standard_types",
        "cmdb.migrations.0004_default_field_owners",
        "cmdb.migrations.0009_ci_page_by_class",
    ):
        importlib.import_module(module).create(apps, None)
    importlib.import_module("cmdb.migrations.0010_schema_identity").set_builtin_keys(apps, None)
    # SLA calendars and default policies, quick-log templates.
    importlib.import_module("incidents.migrations.0003_sequence_and_defaults").seed_defaults(
        apps, None
    )
    roles.sync_roles_after_migrate(sender=None)


@pytest.fixture(autouse=True)
def _reference_data_after_flush(request):
    marker = request.node.get_closest_marker("django_db")
    if marker and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        restore_reference_data()


@pytest.fixture(autouse=True)
def _content_types_cached(request, _reference_data_after_flush):
    """The audit log names objects by content type, which Django caches per process: load
    them before each database test so pinned query counts do not depend on test order."""
    if request.node.get_closest_marker("django_db") or "db" in request.fixturenames:
        if "db" in request.fixturenames:
            request.getfixturevalue("db")
        from django.apps import apps
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.get_for_models(*apps.get_models())


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Rate limits, throttles and cached permissions live in the cache: every test starts with
    an empty one. With Redis (as in CI), keys get a per-process prefix, so parallel test
    processes sharing one Redis never see each other's entries."""
    from django.core.cache import cache

    default = settings.CACHES["default"]
    if "redis" in default["BACKEND"]:
        settings.CACHES = {"default": {**default, "KEY_PREFIX": f"test{os.getpid()}"}}
        from django.core.cache import cache

        cache.delete_pattern("*")
    else:
        cache.clear()
    # A test's rollback undoes CI types that a process-wide memo could still hold.
    from cmdb.api import serializers as cmdb_serializers

    cmdb_serializers._ci_types_by_slug.clear()
    yield


@pytest.fixture
def make_user(db, django_user_model):
    """`make_user("CMDB Manager")` → a user in that role group (no group for None)."""
    counter = {"n": 0}

    def factory(
        role: str | None = None,
        *,
        username: str | None = None,
        password: str = "pw-Secret-123",
        **extra,
    ):
        counter["n"] += 1
        name = username or f"{(role or 'nobody').lower().replace(' ', '_')}_{counter['n']}"
        user = django_user_model.objects.create_user(username=name, password=password, **extra)
        if role:
            group, created = Group.objects.get_or_create(name=role)
            if created or not group.permissions.exists():
                # A transactional test flushed the tables: rebuild permissions and roles.
                roles.sync_roles_after_migrate(sender=None)
            user.groups.add(group)
        return user

    return factory


@pytest.fixture
def cmdb_manager(make_user):
    return make_user(roles.CMDB_MANAGER)


@pytest.fixture
def read_only_user(make_user):
    return make_user(roles.READ_ONLY)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def manager_api(api_client, cmdb_manager):
    api_client.force_authenticate(cmdb_manager)
    api_client.user = cmdb_manager
    return api_client


@pytest.fixture
def readonly_api(read_only_user):
    client = APIClient()
    client.force_authenticate(read_only_user)
    client.user = read_only_user
    return client
