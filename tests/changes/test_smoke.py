import pytest

from changes import services
from changes.choices import ChangeStatus
from tests.changes.conftest import ctx

pytestmark = pytest.mark.django_db


def test_happy_path(approved, manager, cab):
    change = approved()
    assert change.status == ChangeStatus.APPROVED
    assert change.number.startswith("RFC-")
    change = services.change_schedule(
        context=ctx(manager), change=change, start=change.planned_start, end=change.planned_end
    )
    change = services.change_implement(context=ctx(manager), change=change)
    change = services.change_review(context=ctx(manager), change=change, outcome="successful")
    change = services.change_close(context=ctx(manager), change=change)
    assert change.status == ChangeStatus.CLOSED
