"""Generation counters: cached reads must never outlive a change, even across a cache flush."""

import pytest
from django.core.cache import cache

from itsm import caching


@pytest.fixture
def shared_cache(settings):
    settings.SHARED_CACHE = True
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gen"}
    }
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_bump_after_commit_moves_the_generation(shared_cache, django_capture_on_commit_callbacks):
    before = caching.generation("cmdb")
    with django_capture_on_commit_callbacks(execute=True):
        caching.bump("cmdb")
    assert caching.generation("cmdb") > before


def test_a_flushed_cache_never_reuses_an_old_generation(shared_cache):
    """A process may still remember values keyed by the old number after Redis restarts."""
    before = caching.generation("citypes")
    cache.clear()
    after = caching.generation("citypes")
    assert after != before
    assert after > 1


@pytest.mark.django_db
def test_bump_is_a_no_op_without_a_shared_cache(settings, django_capture_on_commit_callbacks):
    settings.SHARED_CACHE = False
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        caching.bump("cmdb")
    assert callbacks == []
