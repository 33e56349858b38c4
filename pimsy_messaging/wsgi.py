from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

from pimsy_messaging.env import require_secret_key, require_webhook_secret

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimsy_messaging.settings")
require_secret_key()
application = get_wsgi_application()
# A bare gunicorn runs no system checks: outside demo mode and tests the e-mail webhooks' secret is
# required as migrate and runserver require it (messaging.E001), or bounces would be lost.
require_webhook_secret()
# What the process made while starting (modules, settings, URL patterns, templates) lives as long as
# the process. Frozen, the garbage collector no longer walks it at every full collection: a request
# that builds many objects (Refresh or Send over 100,000 recipients) did, several times (bench/README.md).
gc.freeze()
