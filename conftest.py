"""Root conftest: test-mode environment before Django settings load."""

from __future__ import annotations

import os

os.environ.setdefault("PIMSY_TESTING", "1")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

pytest_plugins = ["tests.fixtures"]
