"""Settings for the trade engine, read from the environment (django-environ).

Local defaults point at PostgreSQL and Redis on 127.0.0.1 so `make run` works
on a fresh machine; production sets DATABASE_URL, REDIS_URL and SECRET_KEY.
Each value is decided once, in the section of its topic; nothing below a
section changes it again.
"""

import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from tradeengine.logconfig import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])


# -- Signing keys ------------------------------------------------------------
# SECRET_KEY signs Django's sessions (admin logins); JWT_SIGNING_KEY signs
# the API's bearer tokens. Whoever knows them can log in as anyone, so they
# come from the environment (production) or from a key file made once per
# checkout: `make run` and `make test` generate .secrets/django-secret-key
# (git-ignored, mode 0600; scripts/ensure_secret_key.sh) when SECRET_KEY is
# not in the environment. JWT_SIGNING_KEY defaults to SECRET_KEY: one secret
# to keep; set it apart to log every API client out without touching sessions.
#
# A key written in this repository is public. Without a key in the
# environment or the file, a DEBUG process (a workstation) signs with the
# development key below; any other process refuses to start.
DEVELOPMENT_SECRET_KEY = "insecure-local-development-key-change-me-in-production"
PUBLISHED_SECRET_KEYS = frozenset({DEVELOPMENT_SECRET_KEY, ""})
SECRET_KEY_FILE = Path(env.str("SECRET_KEY_FILE", default=str(BASE_DIR / ".secrets" / "django-secret-key")))


def _key_from_file(path: Path) -> str:
    """The key stored in `path`, "" when there is no such file."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def _published(key: str) -> bool:
    # Django's startproject keys carry this prefix; they are in public repositories by design.
    return key in PUBLISHED_SECRET_KEYS or key.startswith("django-insecure-")


def _refuse_published_keys(keys: dict[str, str]) -> None:
    """Stop a non-DEBUG process that would sign with a key anyone can read."""
    published = [name for name, key in keys.items() if _published(key)]
    if published:
        raise ImproperlyConfigured(
            f"{' and '.join(published)} {'is' if len(published) == 1 else 'are'} missing or a value "
            "published in the source code, which anyone could sign tokens with. Set SECRET_KEY in the "
            "environment to a long random value, e.g. "
            "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            f"or run `make secrets` to generate one into {SECRET_KEY_FILE} "
            "(DEBUG=1 allows the development key on a workstation)."
        )


SECRET_KEY = env.str("SECRET_KEY", default="") or _key_from_file(SECRET_KEY_FILE) or DEVELOPMENT_SECRET_KEY
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
if not DEBUG:
    _refuse_published_keys(
        {"SECRET_KEY": SECRET_KEY, **({"JWT_SIGNING_KEY": JWT_SIGNING_KEY} if JWT_SIGNING_KEY != SECRET_KEY else {})}
    )



# -- API key secrets at rest -------------------------------------------------
# The server needs an API key's secret in clear to check its signatures, so
# secrets are stored encrypted (Fernet) rather than hashed. The encryption
# keys come from API_KEY_ENCRYPTION_KEYS (comma-separated) or, when unset,
# from API_KEY_ENCRYPTION_KEYS_FILE (one a line; `make secrets` generates
# .secrets/api-key-encryption-keys like the signing key). Newest first: the
# first encrypts, every one decrypts (MultiFernet). To rotate, put a new key
# first, run `manage.py rotate_api_key_secrets`, then drop the old one.
# Without any, DEBUG processes use the published development key below and
# the others refuse to start, as for SECRET_KEY.
DEVELOPMENT_API_KEY_ENCRYPTION_KEY = "9pgvswdqa6yMvIYhNjNTqKluaHi8p2t37qGNq4jQTPA="
API_KEY_ENCRYPTION_KEYS_FILE = Path(
    env.str("API_KEY_ENCRYPTION_KEYS_FILE", default=str(BASE_DIR / ".secrets" / "api-key-encryption-keys"))
)


def _encryption_keys() -> list[str]:
    keys = env.list("API_KEY_ENCRYPTION_KEYS", default=[]) or _key_from_file(API_KEY_ENCRYPTION_KEYS_FILE).split()
    keys = [key.strip() for key in keys if key.strip()]
    if not keys and DEBUG:
        return [DEVELOPMENT_API_KEY_ENCRYPTION_KEY]
    if not keys or DEVELOPMENT_API_KEY_ENCRYPTION_KEY in keys:
        raise ImproperlyConfigured(
            "API_KEY_ENCRYPTION_KEYS is missing or holds the development key published in the source code. "
            "Set it to a Fernet key, e.g. API_KEY_ENCRYPTION_KEYS=$(python3 -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'), "
            f"or run `make secrets` to generate one into {API_KEY_ENCRYPTION_KEYS_FILE} "
            "(DEBUG=1 allows the development key on a workstation)."
        )
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"API key encryption key number {number} is not a Fernet key (32 bytes, URL-safe base64)."
            ) from None
    return keys


API_KEY_ENCRYPTION_KEYS = _encryption_keys()
# A request signed with an API key must carry a timestamp this close to ours.
API_KEY_TIMESTAMP_WINDOW_MS = env.int("API_KEY_TIMESTAMP_WINDOW_MS", default=5000)
# Unrevoked keys one user may hold.
API_KEYS_PER_USER = env.int("API_KEYS_PER_USER", default=30)
# A key's last use is written at most this often (not on every request).
API_KEY_LAST_USED_RESOLUTION_SECONDS = env.int("API_KEY_LAST_USED_RESOLUTION_SECONDS", default=60)


# -- Django applications and the request path --------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_prometheus",
    "riskadmin",
    "apikeys",
    "settlement",
    "orders",
    "matching",
    "marketdata",
    "binance_api",
    "tradeengine",  # management commands (run_web)
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Early, so every later middleware's log lines carry the request id.
    "tradeengine.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "tradeengine.urls"
ASGI_APPLICATION = "tradeengine.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# -- Database ----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tradeengine"),
}
# daphne runs every request in a thread of its own, so a connection kept per
# thread would pile up and exhaust max_connections: a web process borrows a
# connection from its own pool for each request and hands it back. The one
# place that decides the pool size is tradeengine.asgi, the web entry point:
# it sets DB_POOL_MAX_SIZE for the process it starts (from
# WEB_DB_POOL_MAX_SIZE, default 10). Here that value is only applied; an
# operator sets WEB_DB_POOL_MAX_SIZE (or `run_web --pool-size`), never
# DB_POOL_MAX_SIZE, which run_web and the end-to-end harness strip from what
# they pass on. Every other process (matcher, Celery worker and beat,
# commands) is single-threaded, has no DB_POOL_MAX_SIZE, and keeps its one
# connection DB_CONN_MAX_AGE seconds: closing it after every settlement task
# would cost PostgreSQL a new backend each time.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=0)
if DB_POOL_MAX_SIZE:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),  # then 503, like a dead database
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django insists
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})
# `manage.py run_web`: daphne processes sharing the port, each with its pool.
WEB_PROCESSES = env.int("WEB_PROCESSES", default=2)


def _process_name(argv: list[str]) -> str:
    """"run_matcher", "celery worker", "daphne": shown by PostgreSQL in
    pg_stat_activity.application_name, so each connection names its process."""
    path = Path(argv[0]) if argv else Path("python")
    program = path.parent.name if path.name == "__main__.py" else path.name  # python -m daphne
    words = [a for a in argv[1:] if not a.startswith("-")]
    if program in ("manage.py", "django-admin") and words:
        return words[0]
    if program == "celery":
        return " ".join(["celery"] + [w for w in words if w in ("worker", "beat")])
    return program


DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env.str(
    "DB_APPLICATION_NAME", default=_process_name(sys.argv)
)[:63]


# -- Redis: cache, channel layer ---------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # The socket timeout must exceed channels-redis's 5 s blocking receive.
            "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2, "socket_timeout": 10}],
            # Keys name the installation so several can share one Redis.
            "prefix": env.str("CHANNEL_LAYER_PREFIX", default=f"asgi:{DATABASES['default']['NAME']}"),
            # Per-connection queue bound: a client that falls this far behind
            # loses messages (and sees a gap in the depth sequence) instead of
            # growing memory; undelivered messages expire after `expiry` s.
            "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=500),
            "expiry": env.int("CHANNEL_LAYER_EXPIRY", default=10),
            "group_expiry": 86400,
        },
    }
}


# -- Celery ------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# The Celery queue settlement (and every other) task goes to. Deployments that
# share one Redis (end-to-end test stacks do) give each its own queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Celery closes Django's connection around every task unless told to reuse
# it: PostgreSQL would start a backend per settled trade. Reuse it (Celery
# still recycles it every DB_REUSE_MAX tasks); tradeengine.celery replaces a
# broken or aged one before each task, as Django does per request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=10_000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# An unacknowledged task (its worker was killed) is redelivered after this;
# settlement is idempotent, so an early redelivery costs nothing.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=300)}
CELERY_BEAT_SCHEDULE = {
    "sweep-unsettled-trades": {
        "task": "settlement.tasks.sweep_unsettled",
        "schedule": env.float("SETTLEMENT_SWEEP_INTERVAL_SECONDS", default=15.0),
    },
    # Each run replays the hot journal once (verify_book from the last checkpoint).
    "archive-journal": {
        "task": "matching.tasks.archive_old_commands",
        "schedule": env.float("JOURNAL_ARCHIVE_INTERVAL_SECONDS", default=24 * 3600.0),
    },
}
# Celery keeps Django's logging configuration instead of installing its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False


# -- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    # simplejwt's class, plus the user id bound to the request's log lines.
    # A login token or an API key's signature (X-API-KEY, X-API-TIMESTAMP,
    # X-API-SIGNATURE); a key does only what its permissions grant.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.LoggedJWTAuthentication",
        "apikeys.api.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "core.api.permissions.ApiKeyScope"],
    "DEFAULT_THROTTLE_CLASSES": ["tradeengine.throttling.RateLimitThrottle"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    # Behind N proxies the client address is taken from X-Forwarded-For;
    # unset, REMOTE_ADDR is the client (the per-IP limits count by it).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Trade engine API",
    "DESCRIPTION": "Spot exchange: orders, fills, balances, market data and operator endpoints.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets ship with the package: no CDN needed on a closed network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}


# -- Rate limits and login throttling (tradeengine.throttling, .login_throttle)
# What a venue ships (in the spirit of Binance's published spot limits), per
# fixed window: "N/s", "N/10s", "N/min", "N/15min", "N/h", "N/day"; an empty
# value turns a bucket off. Load tests and benchmarks raise them through the
# same variables. Over a limit: 429 RATE_LIMITED with Retry-After.
RATE_LIMITS = {
    "ip": env.str("RATE_LIMIT_IP", default="1200/min"),  # every API request, per client address (/api/v3: its weight)
    "user": env.str("RATE_LIMIT_USER", default="1200/min"),  # every authenticated request, per user
    "orders": env.str("RATE_LIMIT_ORDERS", default="100/10s"),  # order placements, per user
    "orders_day": env.str("RATE_LIMIT_ORDERS_DAY", default="200000/day"),  # order placements, per user
}
# Failed logins (API token and admin login). "username" counts per username
# *and* client address, so strangers cannot lock the owner out; "ip" bounds
# one address guessing across many usernames.
LOGIN_THROTTLE = {
    "ip": env.str("LOGIN_THROTTLE_IP", default="20/15min"),
    "username": env.str("LOGIN_THROTTLE_USERNAME", default="5/15min"),
}


# -- Trading -----------------------------------------------------------------
# How long POST /orders waits for the matcher before answering 202 PENDING.
ORDER_RESULT_TIMEOUT = env.float("ORDER_RESULT_TIMEOUT", default=2.0)
# A stop-market buy cannot know its fill price: it locks quantity x stop price
# plus this share, and never spends more than that.
STOP_MARKET_BUY_BUFFER = Decimal(env.str("STOP_MARKET_BUY_BUFFER", default="0.05"))
MATCHER_BATCH_SIZE = env.int("MATCHER_BATCH_SIZE", default=500)
MATCHER_IDLE_POLL_SECONDS = env.float("MATCHER_IDLE_POLL_SECONDS", default=1.0)
# Processed commands stay in the hot journal this long, then `archive_journal`
# (and the beat entry below) checkpoints each book and moves them to the archive.
JOURNAL_RETENTION_DAYS = env.float("JOURNAL_RETENTION_DAYS", default=2.0)
JOURNAL_ARCHIVE_CHUNK = env.int("JOURNAL_ARCHIVE_CHUNK", default=10_000)  # commands per transaction
FEE_ACCOUNT_USERNAME = env.str("FEE_ACCOUNT_USERNAME", default="fees")


# -- Market data and WebSocket -----------------------------------------------
# The matcher publishes after each commit from a background thread; when this
# many batches are waiting, new ones are dropped (clients resync) rather than
# slowing matching down.
MARKETDATA_PUBLISH = env.bool("MARKETDATA_PUBLISH", default=True)
MARKETDATA_PUBLISH_QUEUE = env.int("MARKETDATA_PUBLISH_QUEUE", default=10000)
MARKETDATA_PUBLISH_TIMEOUT = env.float("MARKETDATA_PUBLISH_TIMEOUT", default=1.0)
# The server pings a connection idle this long and closes it after the
# timeout without any client frame; daphne also pings at the protocol level.
WS_PING_SECONDS = env.float("WS_PING_SECONDS", default=20.0)
WS_IDLE_TIMEOUT_SECONDS = env.float("WS_IDLE_TIMEOUT_SECONDS", default=60.0)
# Each connection has an outgoing queue of WS_MAX_BACKLOG frames; a connection
# whose queue is full, or whose updates wait longer than WS_MAX_LAG_SECONDS, is
# closed as a slow consumer (4008).
WS_MAX_LAG_SECONDS = env.float("WS_MAX_LAG_SECONDS", default=10.0)
WS_MAX_BACKLOG = env.int("WS_MAX_BACKLOG", default=400)
# Each daphne process's market-data subscriber pings Redis this often when
# idle, to notice a dead connection and reconnect.
WS_FANOUT_HEALTH_SECONDS = env.float("WS_FANOUT_HEALTH_SECONDS", default=5.0)
WS_MAX_SUBSCRIPTIONS = env.int("WS_MAX_SUBSCRIPTIONS", default=100)
WS_STATS_FLUSH_SECONDS = env.float("WS_STATS_FLUSH_SECONDS", default=2.0)


# -- Settlement --------------------------------------------------------------
SETTLEMENT_MAX_RETRIES = env.int("SETTLEMENT_MAX_RETRIES", default=10)
# The sweeper re-queues trades still PENDING this long after they executed.
SETTLEMENT_SWEEP_AGE_SECONDS = env.float("SETTLEMENT_SWEEP_AGE_SECONDS", default=30.0)
# The external wallet service each settlement is also posted to; empty = none.
WALLET_SERVICE_URL = env.str("WALLET_SERVICE_URL", default="")
# Read timeout of one wallet call (connecting gets at most 1 s of it).
WALLET_TIMEOUT_SECONDS = env.float("WALLET_TIMEOUT_SECONDS", default=3.0)
# The wallet's circuit breaker: consecutive failures that open it, and how long
# it stays open before one trial call is let through.
WALLET_BREAKER_FAILURE_THRESHOLD = env.int("WALLET_BREAKER_FAILURE_THRESHOLD", default=5)
WALLET_BREAKER_RESET_SECONDS = env.float("WALLET_BREAKER_RESET_SECONDS", default=10.0)
# Redis key of the breaker's shared state; empty = derived from the database name.
WALLET_BREAKER_KEY = env.str("WALLET_BREAKER_KEY", default="")


# -- Health ------------------------------------------------------------------
# GET /api/v1/admin/health/detailed: the version and uptime it reports, and
# its thresholds.
APP_VERSION = env.str("APP_VERSION", default=SPECTACULAR_SETTINGS["VERSION"])
PROCESS_STARTED_AT = time.time()
MATCHER_HEARTBEAT_STALE_SECONDS = env.float("MATCHER_HEARTBEAT_STALE_SECONDS", default=30.0)
HEALTH_SETTLEMENT_BACKLOG = env.int("HEALTH_SETTLEMENT_BACKLOG", default=1000)
HEALTH_DATABASE_SLOW_MS = env.float("HEALTH_DATABASE_SLOW_MS", default=250.0)
HEALTH_REDIS_SLOW_MS = env.float("HEALTH_REDIS_SLOW_MS", default=100.0)


# -- Logs --------------------------------------------------------------------
# JSON lines by default (every process: web, matcher, worker);
# LOG_FORMAT=console for readable lines on a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
# structlog's own loggers go through the handlers above; configured here
# because settings are the one module every process loads first.
configure_structlog()
