"""The pause after repeated soft failures: which values apply.

``failed_messages`` messages to one address on one channel that *ended* failed with a soft category
(after all their redials and resends) within ``window`` pause that address for ``pause`` (a
Do-Not-Send entry of reason "Paused after repeated soft failures" that expires; messages to the
address wait until it ends). 0 messages turns pausing off. A delivered message clears the count.

The values are edited in the admin (:class:`bounces.models.SoftFailurePolicy`, one row); until an
administrator saves it, the environment's ``SOFT_BOUNCE_LIMIT``, ``SOFT_BOUNCE_WINDOW_DAYS`` and
``SOFT_BOUNCE_SUPPRESS_DAYS`` apply (and are the form's initial values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


def _int(name: str, default: int) -> int:
    value = getattr(settings, name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Setting {name} must be a whole number, not {value!r}") from exc


@dataclass(frozen=True)
class PausePolicy:
    failed_messages: int
    window: timedelta
    pause: timedelta

    @property
    def on(self) -> bool:
        return self.failed_messages > 0


def environment_defaults() -> dict[str, int]:
    """The environment's values, as the admin row's fields (its initial values)."""
    return {
        "failed_messages": max(0, _int("SOFT_BOUNCE_LIMIT", 3)),
        "window_days": max(1, _int("SOFT_BOUNCE_WINDOW_DAYS", 7)),
        "pause_days": max(1, _int("SOFT_BOUNCE_SUPPRESS_DAYS", 3)),
    }


def pause_policy() -> PausePolicy:
    """The admin's row when there is one, else the environment's values."""
    from bounces.models import SoftFailurePolicy

    row = SoftFailurePolicy.objects.order_by("pk").values("failed_messages", "window_days", "pause_days").first()
    values = row or environment_defaults()
    return PausePolicy(
        failed_messages=max(0, int(values["failed_messages"])),
        window=timedelta(days=max(1, int(values["window_days"]))),
        pause=timedelta(days=max(1, int(values["pause_days"]))),
    )
