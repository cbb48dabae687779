"""The durable inbox: a crash loses nothing, the sweep catches up, concurrent reports of one
new machine make one CI, and a real Celery worker processes what the web process stored."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections

from agents import reconcile, services
from agents.choices import ReportStatus
from agents.models import InventoryReport
from cmdb.models import ConfigurationItem, HistoryEntry
from tests.agents.conftest import make_agent, native_report

ROOT = Path(__file__).resolve().parents[2]


def store(agent, document) -> InventoryReport:
    body = json.dumps(document).encode()
    return InventoryReport.objects.create(
        agent=agent.agent,
        body=body,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        format=document["format"],
    )


@pytest.mark.django_db(transaction=True)  # reference data comes back through conftest
def test_crash_half_way_loses_nothing_and_the_sweep_finishes(client, monkeypatch):
    agent = make_agent()

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(reconcile, "_apply_software", killed)
    response = agent.post(client, native_report())
    assert response.status_code == 202  # stored durably before the answer
    report = InventoryReport.objects.get()
    assert report.status == ReportStatus.FAILED and "worker killed" in report.error
    # Everything the half-done processing wrote was rolled back with it.
    assert ConfigurationItem.objects.count() == 0
    assert HistoryEntry.objects.count() == 0

    monkeypatch.undo()
    assert services.inbox_sweep(older_than_seconds=0) == 1
    report.refresh_from_db()
    assert report.status == ReportStatus.PROCESSED
    assert ConfigurationItem.objects.count() == 1
    assert services.inbox_sweep(older_than_seconds=0) == 0


@pytest.mark.django_db(transaction=True)  # reference data comes back through conftest
def test_broker_down_keeps_the_report_for_the_sweep(client, monkeypatch):
    from agents import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.process_report_task, "delay", broker_down)
    agent = make_agent()
    assert agent.post(client, native_report()).status_code == 202
    assert InventoryReport.objects.get().status == ReportStatus.RECEIVED
    monkeypatch.undo()
    services.inbox_sweep(older_than_seconds=0)
    assert InventoryReport.objects.get().status == ReportStatus.PROCESSED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # reference data comes back through conftest
def test_two_reports_of_one_new_machine_at_the_same_moment_make_one_ci():
    if connection.vendor != "postgresql":
        pytest.skip("row and advisory locks need PostgreSQL; SQLite serialises writers anyway")
    first, second = make_agent(), make_agent()
    reports = [store(first, native_report()), store(second, native_report())]
    barrier = threading.Barrier(2)
    errors = []

    def process(report_id):
        try:
            barrier.wait()
            services.report_process(report_id=report_id)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=process, args=(r.pk,)) for r in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert ConfigurationItem.objects.count() == 1
    # The first key's report creates the CI and binds it; the second key's report then matches
    # a CI it is not bound to: held for a CMDB Manager (was: both processed onto the one CI).
    assert sorted(InventoryReport.objects.values_list("status", flat=True)) == [
        ReportStatus.HELD,
        ReportStatus.PROCESSED,
    ]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # reference data comes back through conftest
def test_a_real_celery_worker_processes_stored_reports(client, settings):
    broker = os.environ.get("CELERY_BROKER_URL")
    if connection.vendor != "postgresql" or not broker:
        pytest.skip("needs PostgreSQL and a Celery broker (CELERY_BROKER_URL)")
    from itsm.celery import app

    queue = f"itsm-test-{os.getpid()}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DEBUG": "1",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "itsm",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        agent = make_agent()
        assert agent.post(client, native_report()).status_code == 202
        deadline = time.time() + 60
        while time.time() < deadline:
            if InventoryReport.objects.filter(status=ReportStatus.PROCESSED).exists():
                break
            time.sleep(0.5)
        assert InventoryReport.objects.get().status == ReportStatus.PROCESSED
        assert ConfigurationItem.objects.count() == 1
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
