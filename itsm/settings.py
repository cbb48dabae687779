"""Settings, read from the environment (12-factor) with defaults that let a fresh clone run.

`DATABASE_URL` unset: SQLite under var/. `CELERY_BROKER_URL` unset: tasks run eagerly in the
calling process. `DEBUG` off: the HTTPS hardening of `manage.py check --deploy` is switched
on, and SECRET_KEY and ALLOWED_HOSTS are required to serve (see itsm/production.py); build
commands such as `makemigrations --check` run without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ITSM_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
#: False while the development key stands in. With DEBUG off, nothing that serves or processes
#: real data starts with it (itsm/production.py); build commands such as makemigrations do.
SECRET_KEY_CONFIGURED = bool(SECRET_KEY)
if not SECRET_KEY:
    SECRET_KEY = "django-insecure-dev-only-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "import_export",
    "axes",
    "csp",
    "itsm",
    # After itsm: itsm's `drf_create_token` (hashed tokens) overrides this app's command. The app
    # stays for its migrations: itsm's 0002 moves its clear-text keys into hashed ApiTokens.
    "rest_framework.authtoken",
    "cmdb",
    "incidents",
    "changes",
    "releases",
    "agents",
]
#: django-import-export (admin of reference tables): guard exported cells a spreadsheet would run.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

MIDDLEWARE = [
    "itsm.middleware.RequestIDMiddleware",
    "itsm.caching.RequestGenerationsMiddleware",
    "itsm.middleware.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "itsm.middleware.CachedCSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "itsm.urls"
WSGI_APPLICATION = "itsm.wsgi.application"
ASGI_APPLICATION = "itsm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "itsm.context_processors.navigation",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------
DEFAULT_SQLITE = f"sqlite:///{VAR_DIR / 'itsm.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or DEFAULT_SQLITE,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
if os.environ.get("TEST_DB_NAME"):
    # Lets several test runs share one PostgreSQL server (each its own test database).
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DB_NAME"]}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (Redis when configured; the database-backed throttles work without it) ----------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Cached permissions and list pages need a cache every process shares (see itsm/caching.py).
SHARED_CACHE = bool(REDIS_URL)
if REDIS_URL:
    CACHES = {
        # django-redis keeps one client per process (Django's own backend builds one per call).
        # [auth] While Redis is unreachable, calls are answered from process memory (logged,
        # counted) and the shared caches switch off: see itsm/redis_cache.py.
        "default": {
            "BACKEND": "itsm.redis_cache.FallbackRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": float(os.environ.get("CACHE_CONNECT_TIMEOUT", "1")),
                "SOCKET_TIMEOUT": float(os.environ.get("CACHE_SOCKET_TIMEOUT", "1")),
                "FALLBACK_RETRY_SECONDS": env_int("CACHE_FALLBACK_RETRY_SECONDS", 5),
                "ON_RECOVERY": "itsm.caching.forget_generations",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth, sessions, login throttling -----------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "itsm.auth_backends.CachedPermissionsBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# [auth] Sessions live in the database only: they survive a Redis outage, and a logout made
# while Redis is down cannot be undone by a stale cached copy when it comes back. Expired ones
# are deleted daily (itsm.clear_expired_sessions).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)

# --- [auth] Client address behind a reverse proxy ------------------------------------------
# X-Forwarded-For / X-Real-IP are believed only from these peers (addresses or networks,
# comma-separated); empty trusts nobody, and REMOTE_ADDR is the client. One helper,
# itsm.client_ip.client_ip, serves django-axes, the DRF throttles and the agents' logs.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

# django-axes: lock out after repeated failures, per client address (see above) and account.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
# Either the address or the account reaching the limit locks: one address cannot try many
# accounts, and many addresses cannot share out the guesses at one account.
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "itsm.client_ip.axes_client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- Security headers ---------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
CSRF_COOKIE_SAMESITE = "Lax"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz)$"]  # load balancer and container checks
    SECURE_PROXY_SSL_HEADER = (
        ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", True) else None
    )
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)

# --- Internationalisation, static files ---------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Uploaded files (the definitive software library): through the storage API, under var/.
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# --- Input limits (itsm/limits.py, itsm/parsers.py); a breach is a 400, or a 413 for bodies ---
#: Largest API request body (bytes); above it a JSON 413. Agent reports have their own limit.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 10 * 1024 * 1024)
#: Deepest nesting of an API JSON body.
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)
#: A CI's attributes: characters per string (keys and values), keys in all (nested included),
#: levels of nesting, bytes of JSON in all.
CMDB_ATTRIBUTE_MAX_STRING = env_int("CMDB_ATTRIBUTE_MAX_STRING", 64 * 1024)
CMDB_ATTRIBUTE_MAX_KEYS = env_int("CMDB_ATTRIBUTE_MAX_KEYS", 500)
CMDB_ATTRIBUTE_MAX_DEPTH = env_int("CMDB_ATTRIBUTE_MAX_DEPTH", 10)
CMDB_ATTRIBUTE_MAX_BYTES = env_int("CMDB_ATTRIBUTE_MAX_BYTES", 256 * 1024)
#: Items in one `PUT cmdb/cis/<id>/software/`.
CMDB_SOFTWARE_MAX_ITEMS = env_int("CMDB_SOFTWARE_MAX_ITEMS", 10_000)

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "itsm.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: an endpoint must be authenticated and hold the model permission.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "itsm.permissions.StrictModelPermissions",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "itsm.filters.StrictFilterBackend",
        "itsm.filters.AllowListOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "itsm.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "itsm.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["itsm.parsers.SafeJSONParser"],
    # [auth] "enroll" counts failed enrolments only, per client address.
    "DEFAULT_THROTTLE_RATES": {
        "enroll": os.environ.get("ENROLL_FAILURE_RATE", "20/hour"),
        "login": "10/minute",
    },
    "ORDERING_PARAM": "ordering",
    "SEARCH_PARAM": "q",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "NUM_PROXIES": 0,  # [auth] unused: our throttles ask itsm.client_ip (TRUSTED_PROXIES)
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITSM service desk and CMDB API",
    "DESCRIPTION": (
        "Configuration management (CIs, relationships, impact, history, CSV import/export), "
        "signed agent inventory and deployments, the service desk (incidents, SLAs, problems, "
        "known errors, root-cause comparison, trends), change management (RFCs, approvals, "
        "CAB votes, calendar, conflicts, metrics) and release management (releases, software "
        "library, readiness, phased deployment)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CIStatusEnum": "cmdb.choices.CIStatus",
        "AgentStatusEnum": "agents.choices.AgentStatus",
        "ReportStatusEnum": "agents.choices.ReportStatus",
        "DiscrepancyStatusEnum": "agents.choices.DiscrepancyStatus",
        "VoteDecisionEnum": "changes.choices.VoteDecision",
        "MeetingDecisionEnum": "changes.choices.MeetingDecision",
        "RiskLevelEnum": "changes.choices.RiskLevel",
        "IncidentStatusEnum": "incidents.choices.IncidentStatus",
        "IncidentSeverityEnum": "incidents.choices.Severity",
        "IncidentLevelEnum": "incidents.choices.Level",
        "IncidentCauseEnum": "incidents.choices.Cause",
        "ResolutionMethodEnum": "incidents.choices.ResolutionMethod",
        "IncidentSourceEnum": "incidents.choices.Source",
        "AuditSourceEnum": "itsm.choices.ChangeSource",
        "ReleaseStatusEnum": "releases.choices.ReleaseStatus",
        "ReleasePriorityEnum": "releases.choices.ReleasePriority",
        "ChangePriorityEnum": "changes.choices.ChangePriority",
        "ReadinessDecisionEnum": "releases.choices.GoNoGo",
    },
}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TIMEZONE = TIME_ZONE
# Redis redelivers a message not acknowledged within the visibility timeout: said explicitly,
# and every task's hard time limit stays below it (releases.run_step: below its lease too).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}

# --- Releases -----------------------------------------------------------------------------
# A claimed deployment step whose worker or agent has not answered within the lease is lost.
RELEASES_LEASE_SECONDS = env_int("RELEASES_LEASE_SECONDS", 300)
# A pending step whose message is older than this is sent again (duplicates claim nothing).
RELEASES_REDISPATCH_SECONDS = env_int("RELEASES_REDISPATCH_SECONDS", 60)
# A worker runs a target's next steps itself for this long, then leaves them to new messages
# (a step started late in the chain still has nearly all of the task's time limit).
RELEASES_CHAIN_SECONDS = float(
    os.environ.get("RELEASES_CHAIN_SECONDS") or RELEASES_LEASE_SECONDS / 10
)
# The engine's claims and moves are prepared statements; off behind PgBouncer's transaction mode.
RELEASES_PREPARED_STATEMENTS = env_bool("RELEASES_PREPARED_STATEMENTS", True)

# --- CMDB ---------------------------------------------------------------------------------
# Limits of a CI type's attribute schema, checked when the type is saved (cmdb/schemas.py).
CMDB_SCHEMA_MAX_BYTES = env_int("CMDB_SCHEMA_MAX_BYTES", 64 * 1024)
CMDB_SCHEMA_MAX_DEPTH = env_int("CMDB_SCHEMA_MAX_DEPTH", 20)

# --- Agents -------------------------------------------------------------------------------
AGENT_MAX_BODY_BYTES = env_int("AGENT_MAX_BODY_BYTES", 8 * 1024 * 1024)
AGENT_SIGNATURE_WINDOW_SECONDS = env_int("AGENT_SIGNATURE_WINDOW_SECONDS", 300)
AGENT_REPORT_RETENTION_DAYS = env_int("AGENT_REPORT_RETENTION_DAYS", 30)
# How a report finds its CI, in order; a host name alone is never enough (see agents/reconcile.py).
AGENT_MATCH_RULES = env_list(
    "AGENT_MATCH_RULES", ["uuid", "serial_number", "device_id", "hostname_mac"]
)

# --- Service desk (incidents) ---------------------------------------------------------------
# A closed incident may be reopened within this many days (after it, log a new one).
INCIDENT_REOPEN_DAYS = env_int("INCIDENT_REOPEN_DAYS", 7)
# E-mail (assignment, escalation, resolution, reopening): printed to the console unless
# EMAIL_HOST is set, then sent over SMTP.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "1").lower() in ("1", "true", "yes")
else:
    EMAIL_BACKEND = os.environ.get(
        "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
    )
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "servicedesk@localhost")
# Base URL of the site in e-mails (links to incidents); blank: no link.
SITE_URL = os.environ.get("SITE_URL", "")

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "itsm.security": {"level": "WARNING"},
    },
}
