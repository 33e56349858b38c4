"""Settings for PIMSY Messaging, read from the environment (see README "Configuration")."""

from __future__ import annotations

import datetime as dt
import os
import sys
import zoneinfo
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from pimsy_messaging.env import (
    ConfigurationError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_prefixed,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PIMSY_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
DEMO_MODE = env_bool("PIMSY_DEMO", False)
TESTING = env_bool("PIMSY_TESTING", "pytest" in sys.modules)

# Required where it is used: the web server and the Celery worker/beat refuse to start without it
# (pimsy_messaging.env.require_secret_key), and Django refuses any other use of an empty key. Commands
# that never touch it (makemigrations, check, collectstatic) run without it.
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY and (DEBUG or DEMO_MODE or TESTING):
    SECRET_KEY = "insecure-development-key-only-for-debug-demo-and-tests"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if (DEBUG or DEMO_MODE or TESTING) else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public URL providers call back (scheme://host[:port]); Twilio signs the exact URL it called.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "phonenumber_field",
    "django_celery_beat",
    "anymail",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",  # the PHI access log (and the clock, the clinic zone)
    "clients",
    "messaging",
    "bounces",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "pimsy_messaging.middleware.IdleSessionRefreshMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "axes.middleware.AxesMiddleware",  # a lockout becomes the lockout page (pimsy_messaging.logins)
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a TOTP code
    "pimsy_messaging.middleware.PortalUsersStayInThePortalMiddleware",  # a client's login: the portal only
    "pimsy_messaging.two_factor.RequireSuperuserTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "pimsy_messaging.middleware.PrivatePagesMiddleware",  # no-store for signed-in pages, Permissions-Policy
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "pimsy_messaging.urls"
WSGI_APPLICATION = "pimsy_messaging.wsgi.application"

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
                "pimsy_messaging.context_processors.product",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pimsy.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
# A connection the server dropped (restart, pg_terminate_backend) is replaced, not reused (issue 17).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file in the demo: WAL lets readers and one writer coexist.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file per test process: the live server's threads share it safely, parallel runs do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

# Passwords (outside demo and tests): at least 12 characters, unlike the user's names, not a common
# password, and a zxcvbn strength score of at least PASSWORD_MIN_STRENGTH (0-4; 3 = safely unguessable).
PASSWORD_MINIMAL_STRENGTH = env_int("PASSWORD_MIN_STRENGTH", 3)
AUTH_PASSWORD_VALIDATORS = (
    []
    if (DEMO_MODE or TESTING)
    else [
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
        {"NAME": "django_zxcvbn_password_validator.ZxcvbnPasswordValidator"},
    ]
)
# axes first: it refuses a locked-out login before any password is checked. Then ModelBackend with a
# user's own and group permissions read in one query (pimsy_messaging.auth_backends): PostgreSQL took
# ~2 ms per request to plan ModelBackend's two permission joins.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "pimsy_messaging.auth_backends.OneQueryPermissionsBackend",
]
# Login throttling (django-axes, database handler; pimsy_messaging.logins): a user is locked out after
# LOGIN_FAILURES_PER_USER failures, an address after LOGIN_FAILURES_PER_IP, for LOGIN_LOCKOUT_MINUTES
# after the last failure; an admin unlocks by deleting the rows under Administration > Axes.
AXES_HANDLER = "pimsy_messaging.logins.LoginThrottle"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURES_PER_USER", 5)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 20)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "pimsy_messaging.logins.lockout_response"
AXES_CLIENT_IP_CALLABLE = "pimsy_messaging.logins.client_ip"
AXES_USERNAME_CALLABLE = "pimsy_messaging.logins.client_username"  # cut to axes' column (a 5,000-char name)
# Two-factor sign-in (TOTP, pimsy_messaging.two_factor): optional for staff, required for superusers in
# production (a superuser without an authenticator app is sent to set one up before anything else).
OTP_REQUIRED_FOR_SUPERUSERS = env_bool("OTP_REQUIRED_FOR_SUPERUSERS", not (DEBUG or DEMO_MODE or TESTING))
OTP_TOTP_ISSUER = env_str("OTP_ISSUER", "PIMSY Messaging")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # admins delete a lost device; they never see anyone's secret
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 1 if env_bool("BEHIND_PROXY", False) else 0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# HIPAA automatic log-off: idle sessions end after this many minutes. Requests push the expiry
# forward at most once per SESSION_REFRESH_SECONDS (pimsy_messaging.middleware.IdleSessionRefreshMiddleware)
# rather than with a session write on every request, so an idle session ends up to that much earlier.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30) * 60
SESSION_REFRESH_SECONDS = min(60, SESSION_COOKIE_AGE // 30)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not (DEBUG or DEMO_MODE or TESTING))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
# HTTPS (issue 13, row 9): on in production through the environment (.env.example sets them).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]  # the container health check speaks plain HTTP
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (Django's own): scripts only from this site, never inline; styles may be
# inline (htmx's indicator style, a few style attributes); no plugins, no framing, forms post here.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "media-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Locale ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("CLINIC_TIME_ZONE", "America/New_York")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
    raise ConfigurationError(f"Environment variable CLINIC_TIME_ZONE is not a known time zone: {TIME_ZONE!r}") from exc
USE_I18N = True
# The language a client gets when their preferred language has no template text (and staff always get):
# a template language code (clients.models.Language, "other" excepted). Issue 14 §4.
TEMPLATE_LANGUAGE_CODES = ("en", "es", "fr", "vi", "zh")
CLINIC_DEFAULT_LANGUAGE = env_str("CLINIC_DEFAULT_LANGUAGE", "en").strip().lower()
if CLINIC_DEFAULT_LANGUAGE not in TEMPLATE_LANGUAGE_CODES:
    raise ConfigurationError(
        f"Environment variable CLINIC_DEFAULT_LANGUAGE must be one of {', '.join(TEMPLATE_LANGUAGE_CODES)}:"
        f" {CLINIC_DEFAULT_LANGUAGE!r}"
    )
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = env_str("DEFAULT_PHONE_REGION", "US")
PHONENUMBER_DB_FORMAT = "E164"
PRACTICE_NAME = env_str("PRACTICE_NAME", "Riverbend Behavioral Health")
PRACTICE_PHONE = env_str("PRACTICE_PHONE", "+15555550100")

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if (DEBUG or TESTING)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Celery ---------------------------------------------------------------------------------
# Default: kombu's filesystem transport, a broker that needs no server (demo, laptops).
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # Only short countdowns are used (scheduling lives in the database), so the visibility
    # timeout only matters for redelivery of tasks of a worker that died.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_IMPORTS = ("messaging.automation_tasks",)  # besides each app's tasks.py
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_PREFETCH", 4)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Shared rate limiting (per channel, across workers) needs Redis; empty means per-process only.
RATE_LIMIT_REDIS_URL = env_str(
    "RATE_LIMIT_REDIS_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
)

# --- Dispatcher -----------------------------------------------------------------------------
DISPATCH_SWEEP_SECONDS = env_float("DISPATCH_SWEEP_SECONDS", 5.0)
DISPATCH_CHUNK_SIZE = env_int("DISPATCH_CHUNK_SIZE", 200)
# Deliveries one task sends in a row (fewer task round trips), and the wait before a redial.
DISPATCH_BATCH_SIZE = env_int("DISPATCH_BATCH_SIZE", 10)
# Results the provider accepted are written back in groups of this many rows, or when the oldest
# waited this long (and always at the end of a batch): one commit per group, not per message.
# Until its group is written only the provider knows a message was accepted: if the worker dies
# then, the provider's status callback must settle the row (a restart waits
# DISPATCH_RESTART_GRACE_SECONDS for it), so the wait is short. On PostgreSQL a group is one
# statement; bench_dispatch measured 250 ms groups as fast as one group per 100-row batch.
DISPATCH_WRITE_BACK_ROWS = env_int("DISPATCH_WRITE_BACK_ROWS", 100)
DISPATCH_WRITE_BACK_MS = env_int("DISPATCH_WRITE_BACK_MS", 250)
DISPATCH_REDIAL_SECONDS = env_int("DISPATCH_REDIAL_SECONDS", 60)
DISPATCH_LEASE_SECONDS = env_int("DISPATCH_LEASE_SECONDS", 120)
# Grace after a lease expires before a job is restarted, so a provider callback can arrive first.
DISPATCH_RESTART_GRACE_SECONDS = env_int("DISPATCH_RESTART_GRACE_SECONDS", 300)
# A provider outage (issue 17, README › Failure handling): this many failures in a row (HTTP 5xx,
# timeouts, refused connections) pause the channel; while paused one probe message goes every
# PROVIDER_PROBE_SECONDS (doubling up to PROVIDER_PROBE_MAX_SECONDS) until one is accepted.
PROVIDER_OUTAGE_FAILURES = env_int("PROVIDER_OUTAGE_FAILURES", 5)
PROVIDER_PROBE_SECONDS = env_float("PROVIDER_PROBE_SECONDS", 15.0)
PROVIDER_PROBE_MAX_SECONDS = env_float("PROVIDER_PROBE_MAX_SECONDS", 120.0)
# Reconciliation (issue 17, messaging.dispatch.reconcile): a delivery still "sent" whose row has not
# changed for RECONCILE_AFTER_SECONDS is looked up at the provider (its status callback may be lost),
# every RECONCILE_SWEEP_SECONDS, at most RECONCILE_BATCH per run, RECONCILE_CONCURRENCY at a time.
RECONCILE_AFTER_SECONDS = env_int("RECONCILE_AFTER_SECONDS", 900)
RECONCILE_SWEEP_SECONDS = env_int("RECONCILE_SWEEP_SECONDS", 60)
RECONCILE_BATCH = env_int("RECONCILE_BATCH", 500)
RECONCILE_CONCURRENCY = env_int("RECONCILE_CONCURRENCY", 4)
CELERY_IMPORTS = (*CELERY_IMPORTS, "messaging.reconcile_tasks")
DAY_START_TIME = env_str("MESSAGING_DAY_START", "08:00")
# Sends per second per channel, shared by all workers: each channel's spec has its default
# (``rate_per_second``); RATE_<CHANNEL>_PER_SECOND in the environment (RATE_SMS_PER_SECOND=20)
# overrides it here; 0 means no limit.
RATE_LIMITS_PER_SECOND = {
    name[len("RATE_") : -len("_PER_SECOND")].lower(): env_float(name, 0.0)
    for name in os.environ
    if name.startswith("RATE_") and name.endswith("_PER_SECOND")
}

# --- Bounces ---------------------------------------------------------------------------------
# Until the soft-failure pause policy is saved in the admin (bounces.conf): after SOFT_BOUNCE_LIMIT
# messages ended failed (soft) within SOFT_BOUNCE_WINDOW_DAYS an address is paused for
# SOFT_BOUNCE_SUPPRESS_DAYS; raw DSNs are matched to deliveries sent within DSN_MATCH_DAYS.
SOFT_BOUNCE_LIMIT = env_int("SOFT_BOUNCE_LIMIT", 3)
SOFT_BOUNCE_WINDOW_DAYS = env_int("SOFT_BOUNCE_WINDOW_DAYS", 7)
SOFT_BOUNCE_SUPPRESS_DAYS = env_int("SOFT_BOUNCE_SUPPRESS_DAYS", 3)
DSN_MATCH_DAYS = env_int("DSN_MATCH_DAYS", 7)

# --- Two-way SMS ------------------------------------------------------------------------------
# Replies that confirm or cancel an appointment (Twilio's own opt-out keywords still apply first).
SMS_CONFIRM_WORDS = env_list("SMS_CONFIRM_WORDS", ["C", "Y", "YES", "1", "CONFIRM", "CONFIRMED", "OK"])
SMS_DECLINE_WORDS = env_list("SMS_DECLINE_WORDS", ["N", "NO", "2", "CANCEL", "CXL"])

# --- Providers ------------------------------------------------------------------------------
TWILIO_ENABLED = env_bool("TWILIO_ENABLED", True)
TWILIO_ACCOUNT_SID = env_str(
    "TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000" if (DEMO_MODE or TESTING) else ""
)
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "demo-auth-token" if (DEMO_MODE or TESTING) else "")
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "")
# How long a request to Twilio may take; past it the outcome is unknown (README › Failure handling).
TWILIO_TIMEOUT_SECONDS = env_float("TWILIO_TIMEOUT_SECONDS", 15.0)
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "+15555550100" if (DEMO_MODE or TESTING) else "")
TWILIO_TTS_VOICE = env_str("TWILIO_TTS_VOICE", "Polly.Joanna")
TWILIO_TTS_LANGUAGE = env_str("TWILIO_TTS_LANGUAGE", "en-US")
# The text-to-speech voice for a script written in another language than the default voice's:
# "es=Polly.Lupe:es-US,fr=Polly.Lea:fr-FR" (template language = Twilio voice : its language).
TWILIO_TTS_VOICES = {
    code: tuple(value.split(":", 1))
    for code, _, value in (
        item.partition("=")
        for item in env_list(
            "TWILIO_TTS_VOICES",
            ["es=Polly.Lupe:es-US", "fr=Polly.Lea:fr-FR", "zh=Polly.Zhiyu:cmn-CN", "vi=Google.vi-VN-Standard-A:vi-VN"],
        )
    )
    if code and ":" in value
}

EMAIL_ENABLED = env_bool("EMAIL_ENABLED", True)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "reminders@example.org")
# ANYMAIL_<NAME>=value becomes ANYMAIL["<NAME>"] (e.g. ANYMAIL_MAILGUN_API_KEY, ANYMAIL_WEBHOOK_SECRET).
ANYMAIL: dict[str, object] = dict(env_prefixed("ANYMAIL_"))
if "WEBHOOK_SECRET" not in ANYMAIL and (DEMO_MODE or TESTING):
    ANYMAIL["WEBHOOK_SECRET"] = "demo:demo-webhook-secret"
if "WEBHOOK_SECRET" in ANYMAIL:
    ANYMAIL["WEBHOOK_SECRET"] = [s for s in str(ANYMAIL["WEBHOOK_SECRET"]).split(",") if s]
# Only EMAIL_BACKEND's ESP's tracking webhook and what ANYMAIL_WEBHOOK_ESPS lists ("postmark:inbound",
# "sparkpost" for both kinds) get URLs (messaging.channels.email.webhooks); the tests post to these.
if "WEBHOOK_ESPS" not in ANYMAIL and TESTING:
    ANYMAIL["WEBHOOK_ESPS"] = "amazon_ses,brevo:tracking,mailgun,postmark,sparkpost"
    ANYMAIL.setdefault("MAILGUN_WEBHOOK_SIGNING_KEY", "test-mailgun-signing-key")

FAX_ENABLED = env_bool("FAX_ENABLED", True)
FAX_API_BASE = env_str("FAX_API_BASE", "https://fax.api.sinch.com")
FAX_PROJECT_ID = env_str("FAX_PROJECT_ID", "demo-project" if (DEMO_MODE or TESTING) else "")
FAX_KEY_ID = env_str("FAX_KEY_ID", "demo-key" if (DEMO_MODE or TESTING) else "")
FAX_KEY_SECRET = env_str("FAX_KEY_SECRET", "demo-secret" if (DEMO_MODE or TESTING) else "")
FAX_CALLBACK_USER = env_str("FAX_CALLBACK_USER", "fax" if (DEMO_MODE or TESTING) else "")
FAX_CALLBACK_PASSWORD = env_str("FAX_CALLBACK_PASSWORD", "demo-fax-callback" if (DEMO_MODE or TESTING) else "")

# Local provider simulators (make demo starts them); the demo page lists what each received.
SIMULATOR_CONTROL_URLS = {
    "twilio": env_str("SIM_TWILIO_URL", ""),
    "fax": env_str("SIM_FAX_URL", ""),
    "smtp": env_str("SIM_SMTP_CONTROL_URL", ""),
}

# --- Logging: no PHI; ids only ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "twilio.http_client": {"level": "WARNING"},
        "flufl.bounce": {"level": "WARNING"},
        "axes": {"level": "ERROR"},  # pimsy_messaging.logins logs each failure and lockout instead
    },
}
