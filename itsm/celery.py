"""The Celery application. Without CELERY_BROKER_URL tasks run eagerly (see settings)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")

app = Celery("itsm")


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_development_settings(**kwargs) -> None:
    """A worker or beat processes real data: not with the development key (DEBUG off).

    Celery logs and ignores exceptions from signal handlers: exit instead."""
    from django.core.exceptions import ImproperlyConfigured

    from itsm.production import require_production_settings

    try:
        require_production_settings()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"itsm: {exc}") from None


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes every database connection before and after each task unless
# this is set: a new PostgreSQL connection per processed report. Reuse a connection for up to
# this many tasks; Django's CONN_MAX_AGE and health checks still retire stale ones.
app.conf["CELERY_DB_REUSE_MAX"] = int(os.environ.get("CELERY_DB_REUSE_MAX", "200"))

# Periodic tasks, declared in code (celery beat).
app.conf.beat_schedule = {
    "agents-sweep-inbox": {"task": "agents.sweep_inbox", "schedule": 60.0},
    "agents-audit-stale": {"task": "agents.audit_stale", "schedule": 900.0},
    "agents-purge-nonces": {"task": "agents.purge_nonces", "schedule": 600.0},
    "agents-purge-old-reports": {"task": "agents.purge_old_reports", "schedule": 86400.0},
    "itsm-clear-expired-sessions": {"task": "itsm.clear_expired_sessions", "schedule": 86400.0},
    "incidents-refresh-trends": {"task": "incidents.refresh_trends", "schedule": 300.0},
    "incidents-run-escalations": {"task": "incidents.run_escalations", "schedule": 60.0},
    "releases-reconcile": {"task": "releases.reconcile", "schedule": 15.0},
}
