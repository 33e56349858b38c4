"""The PHI access log (issue 13, row 7): who viewed or exported protected health information, when, from
which address, what (a kind, object ids or a filter summary — never names, addresses or search text)
and how many rows. Written by ``core.access.access_log`` from the views; append-only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class AccessKind(models.TextChoices):
    """What was viewed or exported: one screen (or export) showing PHI."""

    CLIENT_LIST = "client_list", "Client list"
    CLIENT_CHART = "client_chart", "Client chart"
    DELIVERY_DETAIL = "delivery_detail", "Delivery detail"
    HISTORY = "history", "Messaging History"
    HISTORY_EXPORT = "history_export", "Messaging History CSV export"
    APPOINTMENTS = "appointments", "Scheduled Appointments"
    PORTAL_MESSAGE = "portal_message", "Portal message (read by the client)"
    PORTAL_INBOX = "portal_inbox", "Portal inbox (read by the client)"
    RECIPIENT_LIST = "recipient_list", "New tab recipient list (Refresh)"
    MESSAGE_PREVIEW = "message_preview", "New tab preview for a recipient"
    DO_NOT_SEND_LIST = "do_not_send_list", "Do-Not-Send list"
    ADMIN_LIST = "admin_list", "Administration list"
    ADMIN_RECORD = "admin_record", "Administration record"


class AccessLog(models.Model):
    """One view or export of PHI. Rows are only ever added: ``save`` of a stored row and ``delete`` refuse."""

    at = models.DateTimeField("When", default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField("User", max_length=150, blank=True, help_text="As it was at the time.")
    ip = models.GenericIPAddressField("Address", null=True, blank=True)
    kind = models.CharField("What", max_length=32, choices=AccessKind.choices, db_index=True)
    object_ids = models.CharField(
        "Ids",
        max_length=255,
        blank=True,
        help_text="The record viewed: a delivery's, client's or admin record's id, or the previewed recipient's"
        " key (a<appointment id>, c<client id>, u<user id>); empty for a list.",
    )
    client_id = models.BigIntegerField("Client id", null=True, blank=True, db_index=True)
    summary = models.CharField(
        "Filters", max_length=500, blank=True, help_text="The list's filters, without names or search text."
    )
    rows = models.PositiveIntegerField("Rows", null=True, blank=True, help_text="Rows shown or exported.")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "PHI access log entry"
        verbose_name_plural = "PHI access log"

    def __str__(self) -> str:
        return f"{self.username or 'unknown user'}: {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("The access log is append-only: a stored entry cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("The access log is append-only: an entry cannot be deleted.")
