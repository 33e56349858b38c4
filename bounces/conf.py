"""Bounce-policy settings, read from ``django.conf.settings`` with defaults.

``SOFT_BOUNCE_LIMIT`` soft bounces of one address on one channel within ``SOFT_BOUNCE_WINDOW_DAYS``
suppress that address for ``SOFT_BOUNCE_SUPPRESS_DAYS`` (a Do-Not-Send entry that expires).
A limit of 0 turns the suppression off. A delivered message resets the count.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def _int(name: str, default: int) -> int:
    value = getattr(settings, name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Setting {name} must be a whole number, not {value!r}") from exc


def soft_bounce_limit() -> int:
    return max(0, _int("SOFT_BOUNCE_LIMIT", 3))


def soft_bounce_window() -> timedelta:
    return timedelta(days=max(1, _int("SOFT_BOUNCE_WINDOW_DAYS", 7)))


def soft_bounce_suppression() -> timedelta:
    return timedelta(days=max(1, _int("SOFT_BOUNCE_SUPPRESS_DAYS", 3)))
