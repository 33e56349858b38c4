from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def product(request: HttpRequest) -> dict[str, object]:
    """Values every page shows: practice name, demo banner, toast minimum time (setting 420)."""
    from messaging.system_settings import get_setting

    toast_seconds = 5
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        toast_seconds = int(get_setting(420))
    return {
        "PRACTICE_NAME": settings.PRACTICE_NAME,
        "DEMO_MODE": settings.DEMO_MODE,
        "TOAST_MIN_SECONDS": toast_seconds,
        "SESSION_IDLE_SECONDS": settings.SESSION_COOKIE_AGE,
        "SESSION_IDLE_MINUTES": settings.SESSION_COOKIE_AGE // 60,
    }
