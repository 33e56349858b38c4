"""Run the automated-messaging planner once, now (what Celery beat runs every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Plan and release the automated messages that are due (safe to run any time, any number of times)."

    def handle(self, *args: Any, **options: Any) -> None:
        from messaging.automation import run_planner

        result = run_planner()
        released = ", ".join(f"{n} {status}" for status, n in sorted(result.released.items())) or "none"
        self.stdout.write(f"Planned {result.planned}, released: {released}, cancelled {result.cancelled}.")
