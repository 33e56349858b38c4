"""Messaging's own records about EHR rows: what a client answered about an appointment, the extra
send times of automated messages, and when a client read a portal message.

They were in ``clients.models`` until the layers were made one-way (issue 11): the EHR app now knows
nothing of messaging. Their tables keep the names the clients app gave them (``db_table``);
migrations ``clients 0005`` and ``messaging 0014`` moved them in Django's state only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clients.models import ConfirmationStatus


class ReplySource(models.TextChoices):
    SMS = "sms", "Text reply"
    VOICE = "voice", "Phone keypad"
    STAFF = "staff", "Staff"


class AppointmentReply(models.Model):
    """What the client answered about an appointment (a text reply or a keypad press), for staff.

    The reply changes ``Appointment.confirmation`` only; staff decide about the scheduling status.
    Unacknowledged declines are shown on the Scheduled Appointments screen until someone reviews them.
    """

    appointment = models.ForeignKey("clients.Appointment", on_delete=models.CASCADE, related_name="client_replies")
    answer = models.CharField(max_length=12, choices=ConfirmationStatus.choices)
    source = models.CharField(max_length=8, choices=ReplySource.choices)
    text = models.CharField("What the client sent", max_length=320, blank=True)
    inbound = models.OneToOneField(
        "messaging.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="appointment_reply"
    )
    delivery = models.ForeignKey(
        "messaging.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="appointment_replies"
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "clients_appointmentreply"  # made by the clients app before it moved here
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "appointment replies"

    def __str__(self) -> str:
        return f"{self.get_answer_display()} ({self.get_source_display()}) for appointment {self.appointment_id}"


class OffsetUnit(models.TextChoices):
    MINUTES = "m", "minutes"
    HOURS = "h", "hours"
    DAYS = "d", "days"


class AutomationRule(models.Model):
    """An extra send time for an automated message type, added by staff without code.

    The direction follows the type: before the appointment (reminders, telehealth messages),
    after booking (initial confirmation), after the appointment ends (post-appointment message),
    before the renewal date (user renewals). Setting 759 / 760 give the standard offsets; rules
    add to them. For types without a numbered setting, active rules replace the built-in default.
    """

    message_type = models.ForeignKey(
        "messaging.MessageType",
        on_delete=models.CASCADE,
        related_name="automation_rules",
        limit_choices_to={"is_manual": False},
    )
    amount = models.PositiveIntegerField(help_text="How many minutes / hours / days.")
    unit = models.CharField(max_length=1, choices=OffsetUnit.choices, default=OffsetUnit.DAYS)
    channels = models.JSONField(
        default=list,
        blank=True,
        help_text="Contact methods to use. None ticked: the recipient's preferred contact method.",
    )
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "clients_automationrule"
        ordering = ["message_type", "unit", "amount"]
        verbose_name = "automated message send time"
        constraints = [
            models.UniqueConstraint(fields=["message_type", "amount", "unit"], name="one_rule_per_type_offset")
        ]

    def __str__(self) -> str:
        return f"{self.message_type}: {self.amount} {self.get_unit_display()}"


class PortalMessageRead(models.Model):
    """When the client opened a message in the portal inbox."""

    account = models.ForeignKey("clients.PortalAccount", on_delete=models.CASCADE, related_name="reads")
    delivery = models.ForeignKey("messaging.Delivery", on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "clients_portalmessageread"
        constraints = [models.UniqueConstraint(fields=["account", "delivery"], name="one_read_per_message")]
