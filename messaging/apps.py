from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from clients.signals import appointment_changed, chart_warnings


def _ensure_schedules(**kwargs: Any) -> None:
    from messaging.automation import ensure_automation_schedules

    ensure_automation_schedules()


def _replan_appointment(sender: Any, *, appointment: Any, before: Any, **kwargs: Any) -> None:
    from messaging.automation import appointment_changed as replan

    replan(appointment=appointment, before=before)


def _dns_warnings(sender: Any, *, client: Any, **kwargs: Any) -> list[Any]:
    from bounces.selectors import dns_entries_for_client

    return list(dns_entries_for_client(client))


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from messaging.bootstrap import ensure_reference_data
        from messaging.channels.registry import run_ready_hooks

        post_migrate.connect(ensure_reference_data, sender=self)
        # The automated-messaging planner's beat schedule (django-celery-beat), created once.
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="messaging.automation_schedules")
        # Appointments booked, moved, cancelled or completed in the EHR re-plan their messages.
        appointment_changed.connect(_replan_appointment, dispatch_uid="messaging.replan_appointment")
        # The chart warns about Do-Not-Send entries for the client's addresses.
        chart_warnings.connect(_dns_warnings, dispatch_uid="messaging.dns_warnings")
        # Each channel's start-up hook (the e-mail channel connects anymail's signals and its
        # fail-closed system checks): ChannelSpec.ready.
        run_ready_hooks()
