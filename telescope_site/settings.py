"""
Settings of the service, read from the environment (and an optional `.env` file).

Every variable is declared once in `env` below, with its type and its default, so
this block is the single list of what can be configured; the README repeats it as
a table. Telescope's variables keep Telescope's names and the defaults of its code.

The defaults give the embedded mode: SQLite in the project folder, a cache local to
the process, no server to install, and no setting required: without `SECRET_KEY` a
key is generated on the first start and kept in `DATA_DIR`. A database server in
`DATABASE_URL`, or Redis in `REDIS_URL` / `CELERY_BROKER_URL`, is the distributed
mode: several processes, maybe on several machines, which must share one key given
in `SECRET_KEY`, and which are served over HTTPS (secure cookies).
"""

import json
from pathlib import Path

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    # Django and the service itself.
    DEBUG=(bool, False),
    SECRET_KEY=(str, ""),
    DATA_DIR=(str, str(BASE_DIR / "var")),
    # None: follow the mode (HTTPS-only in the distributed mode; see below).
    SESSION_COOKIE_SECURE=(bool, None),
    CSRF_COOKIE_SECURE=(bool, None),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    SECURE_SSL_REDIRECT=(bool, False),
    DATABASE_URL=(str, f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
    REDIS_URL=(str, ""),
    CHECK_TIMEOUT_SECONDS=(float, 60.0),
    CHECK_MODULES=(list, ["checks."]),
    CHECK_MAX_DATA_BYTES=(int, 64 * 1024),
    CHECK_PROCESSES=(int, 32),
    CHECK_PROCESS_THREADS=(int, 50),
    CACHE_LOCK_ENABLED=(bool, True),
    REDIS_LOCK_TIMEOUT_SECONDS=(float, 300.0),
    REDIS_LOCK_BLOCKING_TIMEOUT_SECONDS=(float, 180.0),
    REDIS_KEY_PREFIX=(str, "telescope"),
    REDIS_SOCKET_TIMEOUT_SECONDS=(float, 1.0),
    CELERY_BROKER_URL=(str, ""),
    TASK_VISIBILITY_TIMEOUT_SECONDS=(float, 300.0),
    REFRESH_AHEAD=(bool, True),
    REFRESH_DISPATCH_SECONDS=(float, 2.0),
    REFRESH_BATCH_SIZE=(int, 25),
    EMBEDDED_WORKERS=(int, 4),
    HISTORY_DAYS=(int, 30),
    WEBHOOK_URLS=(list, []),
    PUBLIC_DASHBOARD=(bool, False),
    # Errors (Periskop).
    ERRORS_MAX_OCCURRENCES=(int, 100),
    ERRORS_RETENTION_DAYS=(int, 90),
    ERRORS_ANONYMOUS_RESOLVE=(bool, False),
    ERRORS_SCRAPE_TIMEOUT_SECONDS=(float, 10.0),
    ERRORS_SCRAPE_CONCURRENCY=(int, 16),
    ERRORS_SCRAPE_SHARD_SIZE=(int, 50),
    ERRORS_MAX_BODY_BYTES=(int, 10 * 1024 * 1024),
    ERRORS_PUBLIC_BODIES=(bool, False),
    ERRORS_ANONYMOUS_RATE=(str, "10/second"),
    # Telescope's variables, with the defaults of Telescope's code.
    CONFIG_FILE=(str, "config.toml"),
    HOST=(str, "127.0.0.1"),
    PORT=(int, 8000),
    SERVICE_NAME=(str, "telescope"),
    SERVICE_TITLE=(str, ""),
    ENV_NAME=(str, ""),
    CONTACT_EMAIL=(str, "postmaster@localhost"),
    DEFAULT_TTL=(int, 60),
    DEFAULT_REQUEST_HEADERS=(str, "{}"),
    REFRESH_SECRET=(str, ""),
    REQUESTS_TIMEOUT_SECONDS=(float, 10.0),
    REQUESTS_CONNECT_TIMEOUT_SECONDS=(float, 5.0),
    REQUESTS_MAX_RETRIES=(int, 2),
    REQUESTS_DEADLINE_SECONDS=(float, 0.0),  # 0: three times REQUESTS_TIMEOUT_SECONDS
    REQUESTS_MAX_RESPONSE_BYTES=(int, 10 * 1024 * 1024),
    LIMIT_REQUEST_CONCURRENCY=(int, 128),
    LIMIT_GLOBAL_CONCURRENCY=(int, 200),
    CORS_ORIGINS=(list, []),
    CORS_ORIGIN=(list, ["*"]),
    VERSION_FILE=(str, "version.json"),
    DIAGRAM_FILE=(str, "diagram.svg"),
    TROUBLESHOOTING_LINK_TEMPLATE=(
        str,
        "https://wiki.example.com/troubleshooting.html#{project}/{check}",
    ),
    GITHUB_TOKEN=(str, ""),
    GITHUB_API_URL=(str, "https://api.github.com"),
    BUGTRACKER_URL=(str, "https://bugzilla.mozilla.org"),
    BUGTRACKER_API_KEY=(str, ""),
    BUGTRACKER_TTL=(int, 3600),
    CURL_BINARY_PATH=(str, "curl"),
    SENTRY_DSN=(str, ""),
    PROMETHEUS_MULTIPROC_DIR=(str, ""),
    LOG_LEVEL=(str, "INFO"),
    LOG_FORMAT=(str, "json"),
)
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DEBUG")
# Where the embedded mode keeps the state it creates by itself (the generated key).
DATA_DIR = Path(env("DATA_DIR"))
DATABASES = {"default": env.db_url("DATABASE_URL")}
REDIS_URL = env("REDIS_URL")
# The embedded mode: one machine, SQLite, tasks in the process. Anything else may
# run as several processes on several machines (see the module docstring).
EMBEDDED_MODE = (
    DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    and not REDIS_URL
    and not env("CELERY_BROKER_URL")
)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY and EMBEDDED_MODE:
    from foundation import secret_key

    SECRET_KEY = secret_key.load_or_create(DATA_DIR)
elif not SECRET_KEY:
    # Each process would generate its own key and reject the others' sessions, so
    # the distributed mode refuses to start rather than answer 500 to every request.
    raise environ.ImproperlyConfigured(
        "SECRET_KEY must be set in the distributed mode (a database server in "
        "DATABASE_URL, or REDIS_URL / CELERY_BROKER_URL), the same in every process: "
        'generate one with python3 -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

# --- Telescope's settings, as typed values the apps read --------------------------
CONFIG_FILE = env("CONFIG_FILE")
HOST = env("HOST")
PORT = env("PORT")
SERVICE_NAME = env("SERVICE_NAME")
SERVICE_TITLE = env("SERVICE_TITLE") or SERVICE_NAME.capitalize()
ENV_NAME = env("ENV_NAME")
CONTACT_EMAIL = env("CONTACT_EMAIL")
DEFAULT_TTL = env("DEFAULT_TTL")
try:
    DEFAULT_REQUEST_HEADERS = json.loads(env("DEFAULT_REQUEST_HEADERS"))
except json.JSONDecodeError as exc:
    raise environ.ImproperlyConfigured(
        f"DEFAULT_REQUEST_HEADERS must be a JSON object such as "
        f'{{"X-Team": "ops"}}: {exc}'
    ) from None
REFRESH_SECRET = env("REFRESH_SECRET")
REQUESTS_TIMEOUT_SECONDS = env("REQUESTS_TIMEOUT_SECONDS")
REQUESTS_CONNECT_TIMEOUT_SECONDS = env("REQUESTS_CONNECT_TIMEOUT_SECONDS")
REQUESTS_MAX_RETRIES = env("REQUESTS_MAX_RETRIES")
REQUESTS_DEADLINE_SECONDS = env("REQUESTS_DEADLINE_SECONDS") or 3 * REQUESTS_TIMEOUT_SECONDS
REQUESTS_MAX_RESPONSE_BYTES = env("REQUESTS_MAX_RESPONSE_BYTES")
LIMIT_REQUEST_CONCURRENCY = env("LIMIT_REQUEST_CONCURRENCY")
LIMIT_GLOBAL_CONCURRENCY = env("LIMIT_GLOBAL_CONCURRENCY")
CHECK_TIMEOUT_SECONDS = env("CHECK_TIMEOUT_SECONDS")
# The allow-list of check modules: dotted prefixes. Only the environment sets it, so
# that nobody who can edit checks (admin, config import) can run any other code.
CHECK_MODULES = env("CHECK_MODULES")
# A check's data is stored, cached and logged: more than this much JSON is truncated.
CHECK_MAX_DATA_BYTES = env("CHECK_MAX_DATA_BYTES")
# Check code runs in at most this many supervised processes per process that runs
# checks (see audits.execution), started as they are needed.
CHECK_PROCESSES = env("CHECK_PROCESSES")
# Checks one check process runs at once, each on a thread (they wait on the network).
CHECK_PROCESS_THREADS = env("CHECK_PROCESS_THREADS")
CACHE_LOCK_ENABLED = env("CACHE_LOCK_ENABLED")
# The lock's names are Telescope's; they apply to the local cache as well as Redis.
REDIS_LOCK_TIMEOUT_SECONDS = env("REDIS_LOCK_TIMEOUT_SECONDS")
REDIS_LOCK_BLOCKING_TIMEOUT_SECONDS = env("REDIS_LOCK_BLOCKING_TIMEOUT_SECONDS")
VERSION_FILE = env("VERSION_FILE")
DIAGRAM_FILE = env("DIAGRAM_FILE")
TROUBLESHOOTING_LINK_TEMPLATE = env("TROUBLESHOOTING_LINK_TEMPLATE")
GITHUB_TOKEN = env("GITHUB_TOKEN")
GITHUB_API_URL = env("GITHUB_API_URL")
# Known bugs (see bugtracker/): an empty BUGTRACKER_URL turns Bugzilla off.
BUGTRACKER_URL = env("BUGTRACKER_URL").rstrip("/")
BUGTRACKER_API_KEY = env("BUGTRACKER_API_KEY")
BUGTRACKER_TTL = env("BUGTRACKER_TTL")
CURL_BINARY_PATH = env("CURL_BINARY_PATH")
SENTRY_DSN = env("SENTRY_DSN")
# A folder shared by the processes of one machine (gunicorn and Celery workers), where
# each writes its metrics for /__metrics__ to sum (see foundation.metrics). The
# variable is prometheus-client's own.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX")
# Every Redis client (cache, locks, broker, results) gives up on a Redis that does
# not answer after this long: a request on a frozen Redis degrades instead of hanging.
REDIS_SOCKET_TIMEOUT_SECONDS = env("REDIS_SOCKET_TIMEOUT_SECONDS")
# A task taken by a worker that died without acknowledging it is given to another
# worker after this long: longer than the longest run (a check, a scrape).
TASK_VISIBILITY_TIMEOUT_SECONDS = env("TASK_VISIBILITY_TIMEOUT_SECONDS")
# Scheduled audits: results are refreshed before they expire (see audits.tasks).
REFRESH_AHEAD = env("REFRESH_AHEAD")
REFRESH_DISPATCH_SECONDS = env("REFRESH_DISPATCH_SECONDS")
if REFRESH_DISPATCH_SECONDS < 1 or not REFRESH_DISPATCH_SECONDS.is_integer():
    # Beat's database schedules count whole seconds: 0.5 would be stored as 0.
    raise environ.ImproperlyConfigured(
        f"REFRESH_DISPATCH_SECONDS must be a whole number of seconds, 1 or more, "
        f"not {REFRESH_DISPATCH_SECONDS:g}"
    )
REFRESH_DISPATCH_SECONDS = int(REFRESH_DISPATCH_SECONDS)
REFRESH_BATCH_SIZE = env("REFRESH_BATCH_SIZE")
EMBEDDED_WORKERS = env("EMBEDDED_WORKERS")
HISTORY_DAYS = env("HISTORY_DAYS")
WEBHOOK_URLS = env("WEBHOOK_URLS")
# The dashboard needs a staff login, unless PUBLIC_DASHBOARD opens a read-only view.
PUBLIC_DASHBOARD = env("PUBLIC_DASHBOARD")
# Errors: how they are scraped and kept (see errors/).
ERRORS_MAX_OCCURRENCES = env("ERRORS_MAX_OCCURRENCES")
ERRORS_RETENTION_DAYS = env("ERRORS_RETENTION_DAYS")
ERRORS_ANONYMOUS_RESOLVE = env("ERRORS_ANONYMOUS_RESOLVE")
ERRORS_SCRAPE_TIMEOUT_SECONDS = env("ERRORS_SCRAPE_TIMEOUT_SECONDS")
ERRORS_SCRAPE_CONCURRENCY = env("ERRORS_SCRAPE_CONCURRENCY")
# A service with more targets than this is scraped in shards of this many, each a
# task of its own, so that several workers share one large service.
ERRORS_SCRAPE_SHARD_SIZE = env("ERRORS_SCRAPE_SHARD_SIZE")
ERRORS_MAX_BODY_BYTES = env("ERRORS_MAX_BODY_BYTES")
# Request bodies of occurrences: staff and API token holders only, unless true.
ERRORS_PUBLIC_BODIES = env("ERRORS_PUBLIC_BODIES")
# Anonymous reads of the errors APIs, per client IP (DRF's rate: "10/second").
ERRORS_ANONYMOUS_RATE = env("ERRORS_ANONYMOUS_RATE")

# --- Django -------------------------------------------------------------------------
INSTALLED_APPS = [
    # First: its runserver (which starts the embedded scheduler) wins over staticfiles'.
    "foundation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here (/api/docs/)
    "django_celery_beat",
    "audits",
    "errors",
    "bugtracker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "foundation.middleware.RequestSummaryMiddleware",
    "foundation.middleware.HeadWithoutBodyMiddleware",
    "foundation.middleware.RefuseNulMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # A cached check result is answered here, before the URL is even resolved.
    "foundation.middleware.CachedAnswersMiddleware",
    # Django's session, auth and messages middleware, skipped on public reads (GET
    # and HEAD of the checks API and Dockerflow): see foundation.middleware. CSRF is
    # Django's own, unchanged: on a read it does next to nothing, and it is what
    # `check --deploy` looks for.
    "foundation.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "foundation.middleware.AuthenticationMiddleware",
    "foundation.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: its 404 goes back through CommonMiddleware (APPEND_SLASH).
    "foundation.debug_pages.LocalDebugPagesMiddleware",
]
# Error pages: Django's debug pages only for this machine, none with a secret.
DEFAULT_EXCEPTION_REPORTER = "foundation.debug_pages.LocalDebugReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "foundation.debug_pages.RedactingReporterFilter"

ROOT_URLCONF = "telescope_site.urls"
WSGI_APPLICATION = "telescope_site.wsgi.application"
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
                "foundation.context_processors.dashboard",
            ],
        },
    },
]

# Connections are kept between requests (a new one per request cost a quarter of a
# cached check's time), and checked before reuse.
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    # PyMySQL stands in for mysqlclient, which needs a C toolchain and headers.
    import pymysql

    pymysql.install_as_MySQLdb()
    DATABASES["default"].setdefault("OPTIONS", {})["charset"] = "utf8mb4"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded mode writes from several threads (requests, scheduled runs):
    # WAL lets readers go on during a write, IMMEDIATE and a timeout queue writers.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "foundation.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
            "OPTIONS": {
                "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "foundation.storage.EmbeddedStaticFilesStorage"
        if EMBEDDED_MODE
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# The embedded mode serves the files of static/ and of the apps as they are until
# `collectstatic` has run (`make run` does; `manage.py runserver` need not).
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED_MODE
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Celery: workers behind Redis, or tasks in this process (embedded mode) ---------
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Without a broker, tasks run in this process: see foundation.background.enqueue().
CELERY_TASK_ALWAYS_EAGER = not (env("CELERY_BROKER_URL") or REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Broker outages: a worker reconnects for as long as it takes (not 100 times), and
# survives the reconnection (foundation.broker); tasks running meanwhile go on and
# acknowledge their messages afterwards, rather than being cancelled and run again.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "foundation.broker:Transport"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT_SECONDS
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
    # Tasks with acks_late stay in Redis until done: one whose worker died is run
    # again once, by another worker, this long after it was taken.
    "visibility_timeout": TASK_VISIBILITY_TIMEOUT_SECONDS,
    # Look for such tasks every few seconds, not every 100 s (10 x 10 s).
    "unacked_restore_interval": max(min(TASK_VISIBILITY_TIMEOUT_SECONDS / 4, 10), 1),
    "unacked_restore_throttle": 1,
    # A worker serving several queues takes from the first non-empty one, in the
    # order of CELERY_TASK_QUEUES: the cheap dispatchers before a backlog of runs.
    "queue_order_strategy": "priority",
}
# Sending a task to a Redis that is down fails after one quick retry, not four:
# a request that queues work answers within seconds (see audits.answers).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2,
}
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_SOCKET_TIMEOUT_SECONDS
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_SOCKET_TIMEOUT_SECONDS
# Queues by kind of work, so that a backlog of one never delays the others. A worker
# started without -Q serves them all, in this order of priority (see README).
CELERY_TASK_QUEUES = [
    Queue("dispatchers"), Queue("notifications"), Queue("scrapes"), Queue("checks"),
]
CELERY_TASK_DEFAULT_QUEUE = "checks"
CELERY_TASK_ROUTES = {
    "audits.tasks.dispatch_refreshes": {"queue": "dispatchers"},
    "errors.tasks.dispatch_scrapes": {"queue": "dispatchers"},
    "errors.tasks.scrape_*": {"queue": "scrapes"},
    "errors.tasks.*": {"queue": "scrapes"},  # prune: the errors' housekeeping
    "audits.events.*": {"queue": "notifications"},  # webhooks
    "bugtracker.tasks.*": {"queue": "notifications"},  # Bugzilla
    "audits.tasks.*": {"queue": "checks"},  # runs, and prune_history
}
CELERY_BEAT_SCHEDULER = "foundation.beat:LeaderScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 1
# Write when each task last ran at once, so that a standby beat taking over
# continues the schedule instead of firing everything again.
CELERY_BEAT_SYNC_EVERY = 1
# Every periodic task expires: one no worker took in time is dropped, as the next
# one does its work (an hour without workers must not leave thousands to run).
DISPATCH_EXPIRE_SECONDS = 10
CELERY_BEAT_SCHEDULE = {
    "audits.dispatch_refreshes": {
        "task": "audits.tasks.dispatch_refreshes",
        "schedule": float(REFRESH_DISPATCH_SECONDS),
        "options": {"expire_seconds": DISPATCH_EXPIRE_SECONDS},
    },
    "audits.prune_history": {
        "task": "audits.tasks.prune_history", "schedule": 3600.0,
        "options": {"expire_seconds": 3600},
    },
    "errors.dispatch_scrapes": {
        "task": "errors.tasks.dispatch_scrapes", "schedule": 1.0,
        "options": {"expire_seconds": DISPATCH_EXPIRE_SECONDS},
    },
    "errors.prune": {
        "task": "errors.tasks.prune", "schedule": 3600.0, "options": {"expire_seconds": 3600},
    },
    # Does nothing while BUGTRACKER_URL is empty; never more often than once a minute.
    "bugtracker.sync_bugs": {
        "task": "bugtracker.tasks.sync_bugs",
        "schedule": float(max(BUGTRACKER_TTL, 60)),
        "options": {"expire_seconds": max(BUGTRACKER_TTL, 60)},
    },
}
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Security: production values unless DEBUG ---------------------------------------
# Cookies are HTTPS-only where the service is served over HTTPS: the distributed
# mode, behind a proxy that terminates TLS. The embedded mode is served on plain
# http://127.0.0.1:8000, where a browser would never send them back (no login).
_served_over_https = not (DEBUG or EMBEDDED_MODE)
SESSION_COOKIE_SECURE = env("SESSION_COOKIE_SECURE")
SESSION_COOKIE_SECURE = _served_over_https if SESSION_COOKIE_SECURE is None else SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = env("CSRF_COOKIE_SECURE")
CSRF_COOKIE_SECURE = _served_over_https if CSRF_COOKIE_SECURE is None else CSRF_COOKIE_SECURE
SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SILENCED_SYSTEM_CHECKS = [
    # TLS is usually terminated by the load balancer in front of the service; set
    # SECURE_SSL_REDIRECT=true when it is not.
    "security.W008",
]

# --- CORS, as Telescope: CORS_ORIGINS (or CORS_ORIGIN), "*" by default ---------------
_cors = env("CORS_ORIGINS") or env("CORS_ORIGIN")
CORS_ALLOW_ALL_ORIGINS = "*" in _cors
CORS_ALLOWED_ORIGINS = [origin for origin in _cors if origin != "*"]
CORS_URLS_REGEX = r"^/(checks|__|diagram\.svg|api/|$).*"

# --- API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Telescope-compatible audits and errors API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI (/api/docs/) from the vendored drf-spectacular-sidecar, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging: mozlog JSON as Telescope, or plain text --------------------------------
LOG_LEVEL = env("LOG_LEVEL").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "dockerflow.logging.MozlogFormatter",
            "logger_name": SERVICE_NAME,
        },
        # The message, then the record's fields as key=value (foundation.log_format).
        "text": {"()": "foundation.log_format.TextFormatter"},
    },
    # Every handler redacts secrets (foundation.log_redaction): a filter on a handler
    # sees the records of every logger that reaches it, urllib3's and celery's too.
    "filters": {
        "redact_secrets": {"()": "foundation.log_redaction.RedactSecrets"},
        "no_access_lines": {"()": "foundation.log_format.NoAccessLines"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "text" if env("LOG_FORMAT") == "text" else "json",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default handlers of these (a console under DEBUG, mail_admins,
        # django.server's own) would write without the filter: their records go to
        # the root's handlers instead.
        "django": {"handlers": [], "propagate": True},
        # The request summary replaces Django's own request log lines.
        "django.server": {
            "handlers": [], "level": "WARNING", "propagate": True, "filters": ["no_access_lines"],
        },
    },
}

# --- Sentry, when configured --------------------------------------------------------
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from foundation.log_redaction import before_send

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=ENV_NAME or None,
        # monitor_beat_tasks: a Sentry cron monitor per periodic task (the dispatchers),
        # which says when they stop firing or stop succeeding.
        integrations=[
            DjangoIntegration(),
            # Not the checks' own schedules ("audits: p/n"): their runs alert already.
            CeleryIntegration(monitor_beat_tasks=True, exclude_beat_tasks=[r"^audits: "]),
        ],
        send_default_pii=False,
        before_send=before_send,  # the same redaction as the logs
    )
