"""The panel's one settings module. Every value comes from the environment (see README)."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from panel.env import env_bool, env_choice, env_decimal, env_int, env_list, env_networks, env_str, env_token
from panel.logging import logging_config
from panel.schedule import beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PANEL_DATA_DIR", str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
else:
    SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "panel",
    "accounts",
    "providers",
    "orders",
    "audit",
    "news",
    "notify",
    "support",
    "webhooks",
]

MIDDLEWARE = [
    # First: /api/v2 takes its own short chain (security headers only), and answers JSON even to what is
    # refused before its view.
    "panel.api.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "panel.web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a second factor
    "panel.web.middleware.CustomerTimezoneMiddleware",
    "panel.web.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "panel.urls"
WSGI_APPLICATION = "panel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'panel.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0))}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # no upstream HTTP call may sit inside a transaction
# Behind a pooler in transaction mode (PgBouncer), a named cursor does not outlive its transaction's
# server connection: `.iterator()` must then read with plain cursors.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DB_DISABLE_SERVER_SIDE_CURSORS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers go on while one writer works, and
    # IMMEDIATE transactions take the write lock up front, so two writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USES_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

# --- Cache (rate limits, locks): Redis when configured, local memory otherwise ---------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "panel.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ----------------------------------------------------------------------------------
# The default transport keeps messages in files under data/, so a worker and beat in separate
# processes work on a machine with no broker server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = DATA_DIR / "celery-queue"
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
    # Same folders and format, but each message becomes visible only once written whole.
    CELERY_BROKER_TRANSPORT = "panel.broker:Transport"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180, minimum=1)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Sending and polling on separate queues: a slow upstream's polling never holds up new orders.
_SEND_QUEUE = {"queue": "send"}
_POLL_QUEUE = {"queue": "poll"}
CELERY_TASK_ROUTES = {
    "orders.tasks.order_send_task": _SEND_QUEUE,
    "orders.tasks.orders_send_sweep_task": _SEND_QUEUE,
    "orders.tasks.*": _POLL_QUEUE,
}

# --- Panel -----------------------------------------------------------------------------------
PANEL_NAME = env_str("PANEL_NAME", "SMM Panel")
PANEL_CURRENCY = env_str("PANEL_CURRENCY", "USD").upper()
PANEL_DEFAULT_MARKUP_PERCENT = env_decimal("PANEL_DEFAULT_MARKUP_PERCENT", "30")
PANEL_PRICE_DECIMALS = env_int("PANEL_PRICE_DECIMALS", 4)
# Decimals every amount is shown with (balances, prices, charges, deposits; customer pages and the admin alike).
MONEY_DISPLAY_DECIMALS = env_int("MONEY_DISPLAY_DECIMALS", 4, minimum=0)
PANEL_SERVICE_SYNC_MINUTES = env_int("PANEL_SERVICE_SYNC_MINUTES", 60, minimum=1)
# run_local sets it low so demo orders move.
PANEL_POLL_SECONDS = env_int("PANEL_POLL_SECONDS", 60, minimum=1)
# --- News (news/): the weekly service-updates mail and each service's average time ----------------
# The day the weekly mail of service updates goes out (06:00 UTC), with the seven days before it.
SERVICE_UPDATES_DIGEST_WEEKDAY = env_choice("SERVICE_UPDATES_DIGEST_WEEKDAY", "mon",
                                            ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
# A service's average time is the median of its last SERVICE_SPEED_ORDERS completed orders finished within
# SERVICE_SPEED_DAYS days (fewer than 3 such orders: "Not enough data").
SERVICE_SPEED_ORDERS = env_int("SERVICE_SPEED_ORDERS", 10, minimum=3)
SERVICE_SPEED_DAYS = env_int("SERVICE_SPEED_DAYS", 90, minimum=1)
CELERY_BEAT_SCHEDULE = beat_schedule(service_sync_minutes=PANEL_SERVICE_SYNC_MINUTES, poll_seconds=PANEL_POLL_SECONDS,
                                     service_updates_weekday=SERVICE_UPDATES_DIGEST_WEEKDAY)
API_RATE_LIMIT_PER_SECOND = env_int("API_RATE_LIMIT_PER_SECOND", 20)
API_RATE_LIMIT_BURST = env_int("API_RATE_LIMIT_BURST", 60)

# --- API key lookups (panel/api/ratelimit.py) ------------------------------------------------
# Failed key lookups per client address (see TRUSTED_PROXY_COUNT) in a window; past it, /api/v2 answers
# 429 to that address until the window ends, except to keys that found their customer within a day.
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 20, minimum=1)
API_KEY_FAILURE_WINDOW_SECONDS = env_int("API_KEY_FAILURE_WINDOW_SECONDS", 60, minimum=1)

# --- Payments (accounts.deposits, accounts.gateways) ------------------------------------------
# Who pays a gateway's fee: "add" puts it on top of what the customer pays, "deduct" takes it from
# what is credited.
PAYMENT_FEE_MODE = env_choice("PAYMENT_FEE_MODE", "add", ("add", "deduct"))
# A crypto invoice paid with the wrong amount: "review" holds it for an admin, "credit" credits what came.
PAYMENT_WRONG_AMOUNT = env_choice("PAYMENT_WRONG_AMOUNT", "review", ("review", "credit"))
# Open deposits older than this are checked with their gateway (a webhook may have been lost).
PAYMENT_RECONCILE_MINUTES = env_int("PAYMENT_RECONCILE_MINUTES", 15, minimum=1)
# Open deposits older than this expire (the gateways' checkouts expire within a day).
PAYMENT_EXPIRE_HOURS = env_int("PAYMENT_EXPIRE_HOURS", 48, minimum=1)
# Webhooks are small JSON documents; anything larger is refused unread.
PAYMENT_WEBHOOK_MAX_BYTES = env_int("PAYMENT_WEBHOOK_MAX_BYTES", 256 * 1024, minimum=1024)
# How old a signed webhook may be (Stripe's timestamp), against replays.
PAYMENT_WEBHOOK_TOLERANCE_SECONDS = env_int("PAYMENT_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
# Serves /api/bench-floor, a trivial JSON answer that measures the web stack alone (bench/api.py).
PANEL_BENCH_FLOOR = env_bool("PANEL_BENCH_FLOOR", False)

# --- Support tickets (support/services.py) ----------------------------------------------------
# A ticket left answered this many days closes by itself.
SUPPORT_TICKET_AUTOCLOSE_DAYS = env_int("SUPPORT_TICKET_AUTOCLOSE_DAYS", 3, minimum=1)
# Open (or answered) tickets a customer may have at once, and messages a customer may write per hour.
SUPPORT_OPEN_TICKETS_PER_CUSTOMER = env_int("SUPPORT_OPEN_TICKETS_PER_CUSTOMER", 5, minimum=1)
SUPPORT_MESSAGES_PER_HOUR = env_int("SUPPORT_MESSAGES_PER_HOUR", 20, minimum=1)
# The longest message, customer's or staff's, in characters.
SUPPORT_MESSAGE_MAX_LENGTH = env_int("SUPPORT_MESSAGE_MAX_LENGTH", 5000, minimum=100)

# --- Provider URLs (providers/client_addresses.py) -------------------------------------------
# Off: a provider's URL must reach a public address, checked when it is saved and on every connection.
# On: private, loopback and link-local addresses are allowed too (the demo simulator, tests, a
# provider on the panel's own network).
PROVIDER_URLS_ALLOW_PRIVATE = env_bool("PROVIDER_URLS_ALLOW_PRIVATE", DEBUG)

# --- Status webhooks (webhooks/) -------------------------------------------------------------
# Their URLs follow PROVIDER_URLS_ALLOW_PRIVATE: public addresses only, checked when saved and on every
# connection. Each POST waits this long for an answer.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# After a failed attempt the next waits this long, doubling each time up to the cap; an event not
# delivered within WEBHOOK_RETRY_HOURS of its creation is given up.
WEBHOOK_RETRY_SECONDS = env_int("WEBHOOK_RETRY_SECONDS", 30, minimum=1)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600, minimum=WEBHOOK_RETRY_SECONDS)
WEBHOOK_RETRY_HOURS = env_int("WEBHOOK_RETRY_HOURS", 24, minimum=1)
# Failed attempts in a row (any event) that disable an endpoint and mail its owner; at the default
# backoff, 20 is about 14 hours without one success.
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20, minimum=1)

# --- The order pipeline (orders/pipeline/conf.py) --------------------------------------------
# After an Unavailable answer, the wait before the next try doubles from this, up to the cap.
PIPELINE_SEND_BACKOFF_SECONDS = env_int("PIPELINE_SEND_BACKOFF_SECONDS", 30, minimum=1)
PIPELINE_SEND_BACKOFF_MAX_SECONDS = env_int("PIPELINE_SEND_BACKOFF_MAX_SECONDS", 3600,
                                            minimum=PIPELINE_SEND_BACKOFF_SECONDS)
# How long orders wait before another try when our balance at the provider is too low.
PIPELINE_LOW_BALANCE_HOLD_SECONDS = env_int("PIPELINE_LOW_BALANCE_HOLD_SECONDS", 600, minimum=0)
# A claim older than this means the worker died mid-send; it must outlast the task's hard time limit,
# or a worker still waiting for the provider's answer would see its order sent a second time. A claim
# goes stale sooner, after twice its provider's client timeout, when that is shorter (orders.pipeline.send).
PIPELINE_SENDING_STALE_SECONDS = env_int("PIPELINE_SENDING_STALE_SECONDS", 600, minimum=CELERY_TASK_TIME_LIMIT + 1)
# How many polls must call an upstream id incorrect before the order is flagged for the admin.
PIPELINE_INCORRECT_ID_POLLS = env_int("PIPELINE_INCORRECT_ID_POLLS", 3, minimum=1)
# Consecutive failures that open a provider's circuit, and how long it stays open.
PIPELINE_CIRCUIT_FAILURES = env_int("PIPELINE_CIRCUIT_FAILURES", 5, minimum=1)
PIPELINE_CIRCUIT_COOLDOWN_SECONDS = env_int("PIPELINE_CIRCUIT_COOLDOWN_SECONDS", 120, minimum=1)
# The send sweeper leaves orders younger than this to the task enqueued when they were placed.
PIPELINE_SEND_GRACE_SECONDS = env_int("PIPELINE_SEND_GRACE_SECONDS", 30, minimum=0)

# --- Failover between a service's providers, idempotent `add` (orders/failover.py) ----------------
# An order waiting this long at a provider that keeps answering Unavailable goes to the service's next
# alternate; one the provider refused for its own reason (funds, service gone) or whose provider is off
# or has its circuit open goes at once.
FAILOVER_AFTER_SECONDS = env_int("FAILOVER_AFTER_SECONDS", 1800, minimum=0)
# An alternate takes an order only if what the customer paid per 1000 is at least this much above its cost.
FAILOVER_MIN_MARGIN_PERCENT = env_decimal("FAILOVER_MIN_MARGIN_PERCENT", "5", minimum=0)
# "Find alternates" proposes services whose cost is within this percentage of the service's own.
ALTERNATE_MAX_COST_DIFF_PERCENT = env_decimal("ALTERNATE_MAX_COST_DIFF_PERCENT", "25", minimum=0)
# Every `add` we send carries request_id=<prefix>-<order id>: panels sharing an upstream account need their own.
UPSTREAM_REQUEST_ID_PREFIX = env_token("UPSTREAM_REQUEST_ID_PREFIX", "panel", max_length=32)
# At a provider marked "idempotent add", an `add` with no answer is sent again (same request_id, with the
# send backoff) up to this many sends in all before the order waits for an admin as unknown.
IDEMPOTENT_ADD_MAX_ATTEMPTS = env_int("IDEMPOTENT_ADD_MAX_ATTEMPTS", 8, minimum=1)

# --- Metrics (/metrics, panel/metrics) ----------------------------------------------------------
# Who may scrape: a request with `Authorization: Bearer <METRICS_TOKEN>`, or one from an address in
# METRICS_ALLOWED_ADDRESSES (client_address, so TRUSTED_PROXY_COUNT applies). Neither set: /metrics is off (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_ADDRESSES = env_networks("METRICS_ALLOWED_ADDRESSES")
# prometheus_client's multiprocess mode, read by the library itself at start-up: several gunicorn workers (and
# Celery workers on the same host) write their counters there, and /metrics adds them up.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)  # the first count would fail without it

# --- Client addresses ------------------------------------------------------------------------
# How many reverse proxies (the TLS proxy, a load balancer) stand in front of the panel, each appending
# the address it saw to X-Forwarded-For. 0: REMOTE_ADDR is the client. Behind one proxy and 0 here,
# every client has the proxy's address and shares its limits.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Sign-in protection and two-factor sign-in (panel/web/throttle.py, panel/web/two_factor.py) -----
# Wrong passwords (or second-factor codes) per (username, address) before that pair is locked, and how
# long a lock lasts after the latest failure. A browser that signed in to the account before is
# counted on its own and keeps signing in.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=60)
# Wrong passwords from one address across all usernames (spraying).
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 10, minimum=1)
# Wrong passwords for one username from all addresses; browsers that signed in before and accounts with
# two-factor sign-in are not locked by it. Wrong codes per account are counted over a day.
LOGIN_USERNAME_FAILURE_LIMIT = env_int("LOGIN_USERNAME_FAILURE_LIMIT", 20, minimum=1)
# Password-reset mails per email address and per client address, per hour.
PASSWORD_RESETS_PER_EMAIL_PER_HOUR = env_int("PASSWORD_RESETS_PER_EMAIL_PER_HOUR", 3, minimum=1)
PASSWORD_RESETS_PER_IP_PER_HOUR = env_int("PASSWORD_RESETS_PER_IP_PER_HOUR", 10, minimum=1)
# Signup attempts that get as far as the username check, per client address, per hour.
SIGNUPS_PER_IP_PER_HOUR = env_int("SIGNUPS_PER_IP_PER_HOUR", 10, minimum=1)
# Payment requests and gateway deposits a customer may start per hour.
PAYMENT_REQUESTS_PER_HOUR = env_int("PAYMENT_REQUESTS_PER_HOUR", 10, minimum=1)
# django-otp: the issuer shown in authenticator apps; the admin never shows a device's secret. Its own
# per-device delay (doubling after each wrong code, without end) is off: anyone who knows a password could
# push it to days and lock the owner out, so wrong codes go through the counters above instead.
OTP_TOTP_ISSUER = PANEL_NAME
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# --- Auth, i18n, time ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("id", "Bahasa Indonesia")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it even before `collectstatic`
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on: STARTTLS (587) or TLS (465)")
# Seconds an SMTP connection may block; mail goes out from workers (notify.tasks), never from a page.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "panel@localhost")

# --- Mail to customers and staff (notify/) ---------------------------------------------------
# Staff address(es), comma-separated, for new tickets, low provider balances and the attention digest;
# empty: no staff mail.
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL", "")
# The panel's public address, for links in mails (https://panel.example); empty: mails carry no links.
PANEL_URL = env_str("PANEL_URL", "").rstrip("/")
# A mail that fails for a passing reason is tried again after MAIL_RETRY_SECONDS, doubling each time up
# to the cap, MAIL_MAX_ATTEMPTS tries in all; queued mail whose task was lost is sent again after
# MAIL_STALE_MINUTES.
MAIL_MAX_ATTEMPTS = env_int("MAIL_MAX_ATTEMPTS", 6, minimum=1)
MAIL_RETRY_SECONDS = env_int("MAIL_RETRY_SECONDS", 60, minimum=1)
MAIL_RETRY_MAX_SECONDS = env_int("MAIL_RETRY_MAX_SECONDS", 3600, minimum=MAIL_RETRY_SECONDS)
MAIL_STALE_MINUTES = env_int("MAIL_STALE_MINUTES", 15, minimum=1)

# --- HTTPS, cookies, security headers (panel/web/middleware.py) ------------------------------
# Outside DEBUG the panel is served over HTTPS, by itself or behind a TLS proxy that sets
# X-Forwarded-Proto: plain HTTP is redirected, and browsers are told to use nothing else (HSTS).
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The docker health check and load balancers ask for /health over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]  # /metrics: Prometheus scrapes inside the network too
# Sent with HTTPS answers only. A year, the subdomains and the preload flag are what browsers' preload
# lists ask for; turn the subdomains off before the first deployment if one still serves plain HTTP.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# django-csp. No inline script anywhere: every script is a file under static/. Customer pages have no
# inline style either; the Django admin's may (ContentSecurityPolicyMiddleware allows them there).
# form-action stays open: the add-funds form's answer sends the customer on to the gateway's checkout.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

# One console handler that masks API keys; Celery's worker and beat log through it too, one line per task
# that did something (panel/logging.py, panel/celery.py).
LOGGING = logging_config(level=env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")))
