"""Messaging data: settings, message types and templates, broadcasts, deliveries and their attempts.

The database is the source of truth. A Delivery row exists before any provider call; its status
only moves forward (see ``Status.RANK``) by compare-and-set updates in ``messaging.services``.
"""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from messaging.channels.registry import choices as channel_choices
from messaging.ehr_records import (  # noqa: F401  (models defined there are registered through this module)
    AppointmentReply,
    AutomationRule,
    OffsetUnit,
    PortalMessageRead,
    ReplySource,
)

# The channels, from the registry (messaging/channels/registry.py): Channel.SMS == "sms", and so on.
Channel = models.TextChoices("Channel", [(kind.upper(), (kind, label)) for kind, label in channel_choices()])


class Audience(models.TextChoices):
    CLIENTS = "clients", "Clients"
    STAFF = "staff", "Staff users"


class Selection(models.TextChoices):
    """How Refresh finds the recipients of a message type."""

    APPOINTMENTS = "appointments", "Clients with appointments in the date range"
    INITIAL_APPOINTMENTS = "initial", "Clients with an initial appointment in the date range"
    COMPLETED_APPOINTMENTS = "completed", "Clients with a completed appointment in the date range"
    TELEHEALTH = "telehealth", "Clients with a telehealth appointment in the date range"
    ALL_CLIENTS = "all_clients", "All consenting clients"
    RENEWALS = "renewals", "Staff with a renewal due in the date range"
    ALL_STAFF = "all_staff", "All staff users"


class SystemSetting(models.Model):
    """One numbered setting's stored value (see ``messaging.system_settings.REGISTRY``)."""

    number = models.PositiveIntegerField(primary_key=True)
    value = models.CharField(max_length=1000, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["number"]
        verbose_name = "system setting"

    def __str__(self) -> str:
        from messaging.system_settings import REGISTRY

        definition = REGISTRY.get(self.number)
        return f"{self.number} {definition.name if definition else ''}".strip()


class SystemSettingChange(models.Model):
    number = models.PositiveIntegerField(db_index=True)
    old_value = models.CharField(max_length=1000, blank=True)
    new_value = models.CharField(max_length=1000, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"Setting {self.number}: {self.old_value or '(empty)'} → {self.new_value or '(empty)'}"


class MessageType(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120, unique=True)
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.CLIENTS)
    selection = models.CharField(max_length=16, choices=Selection.choices, default=Selection.APPOINTMENTS)
    is_manual = models.BooleanField(
        default=True, help_text="Manual types are sent from Utilities > Messaging and need a Description."
    )
    is_hie = models.BooleanField(
        "HIE message", default=False, help_text="Health-information-exchange message: setting 490 applies."
    )
    setting_number = models.PositiveIntegerField(
        null=True, blank=True, help_text="Numbered setting that enrols or configures this type, if any."
    )
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=100)
    fallback_channels = models.JSONField(
        "Fallback order",
        default=list,
        blank=True,
        help_text=(
            'Channels to try in turn when a message of this type ends failed, e.g. ["sms", "voice", "email"]: '
            "the next one the client consented to is tried. Empty: no fallback."
        ),
    )

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        order = self.fallback_channels
        if order in (None, ""):
            self.fallback_channels = []
            return
        known = set(Channel.values)
        if not isinstance(order, list) or any(not isinstance(c, str) or c not in known for c in order):
            raise ValidationError(
                {"fallback_channels": f"A list of contact methods, in order, from: {', '.join(sorted(known))}."}
            )
        if len(set(order)) != len(order):
            raise ValidationError({"fallback_channels": "Name each contact method once."})

    @property
    def is_appointment_based(self) -> bool:
        return self.selection in {
            Selection.APPOINTMENTS,
            Selection.INITIAL_APPOINTMENTS,
            Selection.COMPLETED_APPOINTMENTS,
            Selection.TELEHEALTH,
        }


class MessageTemplate(models.Model):
    """One template per (message type, channel, language); a client gets the variant in their
    preferred language, else the clinic's default language's."""

    message_type = models.ForeignKey(MessageType, on_delete=models.CASCADE, related_name="templates")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # A client's preferred_language code (clients.models.Language): "en", "es", …
    language = models.CharField(max_length=8, default="en")
    sms_body = models.TextField("SMS text", blank=True)
    email_subject = models.CharField("E-mail subject", max_length=200, blank=True)
    email_text = models.TextField("E-mail plain text", blank=True)
    email_html = models.TextField("E-mail HTML", blank=True)
    voice_script = models.TextField("Voice text-to-speech script", blank=True)
    voice_audio = models.FileField(
        "Recorded voice audio", upload_to="voice/", blank=True, help_text="MP3 or WAV; played instead of the script."
    )
    fax_body = models.TextField("Fax document text", blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["message_type", "channel", "language"]
        permissions = [("manage_templates", "Can manage message types, templates and voice recordings")]
        constraints = [
            models.UniqueConstraint(
                fields=["message_type", "channel", "language"], name="one_template_per_type_channel_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_type} / {self.get_channel_display()}"


class TemplateVersion(models.Model):
    """A message template as it was when messages were created from it (``Delivery.template_version``).

    A new version is made the first time a message is created after the template changed
    (``messaging.content.version_for``), so every edit path (the admin, a data migration) is covered.
    Versions are never changed or deleted: what a message was made from stays readable.
    """

    template = models.ForeignKey(MessageTemplate, null=True, on_delete=models.SET_NULL, related_name="versions")
    message_type = models.ForeignKey(MessageType, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=8, default="en")
    number = models.PositiveIntegerField()
    digest = models.CharField(
        max_length=64, help_text="SHA-256 of the fields below: an unchanged template is one version"
    )
    sms_body = models.TextField(blank=True)
    email_subject = models.CharField(max_length=200, blank=True)
    email_text = models.TextField(blank=True)
    email_html = models.TextField(blank=True)
    voice_script = models.TextField(blank=True)
    voice_audio = models.FileField(upload_to="voice/", blank=True, max_length=255)
    voice_audio_sha256 = models.CharField(max_length=64, blank=True)
    fax_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Who saved it (the Templates screen), and for a text edited on the New tab for one send only, that
    # broadcast: such a version is never the template's current one.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    broadcast = models.ForeignKey(
        "Broadcast", null=True, blank=True, on_delete=models.CASCADE, related_name="one_off_versions"
    )

    class Meta:
        ordering = ["message_type", "channel", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["message_type", "channel", "language", "number"], name="one_template_version_number_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_type} / {self.get_channel_display()} v{self.number}"


class MessageContent(models.Model):
    """What a message said, exactly as it went out; identical content is stored once (``digest``).

    ``parts`` holds every rendered part (``messaging.rendering.Rendered``) so the message can be shown
    again without a template; ``subject`` / ``text`` and the channel's facts (an SMS's encoding and
    segments, a recording's file and checksum) are columns for screens and exports.
    """

    digest = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    parts = models.JSONField(default=dict)
    encoding = models.CharField(max_length=8, blank=True)
    segments = models.PositiveSmallIntegerField(null=True, blank=True)
    audio = models.CharField(max_length=255, blank=True, help_text="The recording played (file name)")
    audio_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "message contents"

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.digest[:12]}"


class Broadcast(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"

    message_type = models.ForeignKey(MessageType, on_delete=models.PROTECT, related_name="broadcasts")
    description = models.CharField(max_length=255, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    broadcast_at = models.DateTimeField("Broadcast Date")
    only_preferences = models.BooleanField("Only Send Based on Preferences", default=False)
    channels = models.JSONField(default=list)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    automated = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="broadcasts"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # Cancelled from the Scheduled view (or the progress box): who, when and why, for the record.
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("send_messages", "Can send messages from Utilities > Messaging"),
            ("view_history", "Can view messaging history"),
            ("cancel_any_broadcast", "Can cancel broadcasts other users created"),
            ("hold_automated", "Can hold or release automated messages waiting to go out"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.message_type} {self.description}".strip()

    @property
    def sent_by_label(self) -> str:
        if self.automated or self.created_by is None:
            return "automated"
        return self.created_by.get_username()


class Status(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = frozenset({Status.DELIVERED, Status.FAILED, Status.SUPPRESSED, Status.CANCELLED})
OPEN_STATUSES = frozenset({Status.SCHEDULED, Status.QUEUED})


class RecipientType(models.TextChoices):
    CLIENT = "client", "Client"
    STAFF = "staff", "Staff user"


TOKEN_BYTES = 24  # a multiple of 3: its URL-safe base64 text has no padding (32 characters)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_tokens(count: int) -> list[str]:
    """``count`` tokens like :func:`new_token`'s from one call for random bytes: the base64 text of
    whole 3-byte groups is the text of each group in turn, so every 32 characters are one token's
    24 random bytes. (Send makes 100,000 at once: 0.5 s one by one.)"""
    text = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES * count)).decode("ascii")
    size = TOKEN_BYTES // 3 * 4
    return [text[i : i + size] for i in range(0, size * count, size)]


class Delivery(models.Model):
    """One message to one recipient on one channel."""

    # Indexed by delivery_broadcast_idx (broadcast, status); no index of its own.
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    message_type = models.ForeignKey(MessageType, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient_type = models.CharField(max_length=8, choices=RecipientType.choices, default=RecipientType.CLIENT)
    # Indexed by delivery_client_hist_idx (client, -created_at, -id): the chart's Messages tab.
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # user and appointment: partial indexes in Meta (most rows have neither).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    appointment = models.ForeignKey(
        "clients.Appointment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        db_index=False,
    )
    recipient_name = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=254)
    address_source = models.CharField(max_length=16, blank=True, help_text="chart, alternate or user")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)  # delivery_due_idx
    status_reason = models.CharField(max_length=255, blank=True)
    token = models.CharField(max_length=64, default=new_token, editable=False)  # unique: delivery_token_uniq
    provider_message_id = models.CharField(max_length=128, blank=True)  # delivery_provider_id_idx
    # Scheduling and leases: the sweeper picks rows whose next_attempt_at is due.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    redial_count = models.PositiveIntegerField(default=0)
    resend_count = models.PositiveIntegerField(default=0)
    # What the next attempt is (an Attempt.Kind): set when a redial / resend / restart is scheduled.
    retry_kind = models.CharField(max_length=8, blank=True)
    # Outcome
    bounce_category = models.CharField(max_length=24, blank=True, help_text="One of bounces.taxonomy.CATEGORIES")
    hard_bounce = models.BooleanField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Exactly-once key for automated messages: (appointment or user, type, offset, channel).
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    # What it says: the template version fixed when the message was created, and the content stored
    # when it went out (messaging.content). No index of their own: they are read through the row.
    template_version = models.ForeignKey(
        TemplateVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    content = models.ForeignKey(
        MessageContent, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The delivery on another channel whose failure this one falls back from (MessageType.fallback_channels).
    fallback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fallbacks", db_index=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["-created_at", "-id"], name="delivery_history_idx"),
            models.Index(fields=["broadcast", "status"], name="delivery_broadcast_idx"),
            models.Index(fields=["channel", "-created_at", "-id"], name="delivery_channel_hist_idx"),
            models.Index(fields=["address", "-created_at", "-id"], name="delivery_address_hist_idx"),
            # The sweeper: due queued rows per channel, and leases of rows out for sending.
            models.Index(
                fields=["channel", "next_attempt_at", "id"],
                name="delivery_queued_due_idx",
                condition=Q(status="queued"),
            ),
            models.Index(fields=["lease_expires_at"], name="delivery_sending_lease_idx", condition=Q(status="sending")),
            # Declared here rather than with db_index/unique on the field: on PostgreSQL those add a
            # second "_like" index for LIKE look-ups that nothing makes, and every update of a row
            # (three per message sent) writes every index of this table.
            # Partial where most rows have no value: a row Send inserts writes none of these three
            # (a 100,000-row Send: COPY 2.97 -> 2.45 s, bench/README.md); a look-up by a value (=,
            # IN) still uses them, PostgreSQL proves the condition from it. Nothing looks up "".
            models.Index(
                fields=["provider_message_id"], name="delivery_provider_id_idx", condition=~Q(provider_message_id="")
            ),
            models.Index(fields=["user"], name="delivery_user_idx", condition=Q(user__isnull=False)),
            models.Index(
                fields=["appointment"], name="delivery_appointment_idx", condition=Q(appointment__isnull=False)
            ),
            # The chart's Messages tab: one client's messages, newest first (replaces the FK's own index).
            models.Index(fields=["client", "-created_at", "-id"], name="delivery_client_hist_idx"),
            # Only fallback deliveries are in it: nothing to write for the others.
            models.Index(fields=["fallback_of"], name="delivery_fallback_idx", condition=Q(fallback_of__isnull=False)),
        ]
        constraints = [models.UniqueConstraint(fields=["token"], name="delivery_token_uniq")]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.channel} {self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class DeliveryHold(models.Model):
    """An automated message held back by staff (issue 14): while held, the delivery's ``next_attempt_at``
    is empty so the sweeper does not find it; ``due_at`` keeps when it was due, for the release."""

    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="hold")
    due_at = models.DateTimeField(null=True, blank=True)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    held_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"Hold of delivery {self.delivery_id}"


class Attempt(models.Model):
    """One provider attempt of a delivery: when, what was sent, what the provider answered."""

    class Kind(models.TextChoices):
        FIRST = "first", "First attempt"
        REDIAL = "redial", "Redial"
        RESEND = "resend", "Resend"
        RESTART = "restart", "Restart after worker failure"

    # Indexed by one_attempt_number (delivery, number); no index of its own.
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts", db_index=False)
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FIRST)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=64, blank=True)
    request_summary = models.JSONField(default=dict, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)  # attempt_provider_id_idx
    response = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_number")]
        indexes = [models.Index(fields=["provider_message_id"], name="attempt_provider_id_idx")]


class ProviderEvent(models.Model):
    """A provider callback (status, AMD, e-mail tracking, fax), kept raw, linked to its delivery."""

    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="one_event_per_provider_id")]


class HistoryLayout(models.Model):
    """A user's History columns, in order."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="history_layout")
    columns = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)


class InboundMessage(models.Model):
    """A text a client sent us (two-way SMS), linked to the client and the related delivery."""

    provider_message_id = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=32)
    to_number = models.CharField(max_length=32)
    body = models.TextField(blank=True)
    keyword = models.CharField(max_length=16, blank=True)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    appointment = models.ForeignKey(
        "clients.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]


class ProviderOutage(models.Model):
    """A run of failures of one channel's provider (HTTP 5xx, timeouts, refused connections; issue 17).

    One open row per channel (``ended_at`` empty) counts the failures in a row; at
    ``PROVIDER_OUTAGE_FAILURES`` the channel is paused (``paused_at``): the sweeper claims only one
    probe message every ``next_probe_at`` until one is accepted, which ends the outage. Staff see it
    as a banner on the New tab and History. Closed rows are the outages' history.
    """

    channel = models.CharField(max_length=8, choices=Channel.choices)
    first_failure_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    probes = models.PositiveIntegerField(default=0)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_failure_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel"], condition=Q(ended_at__isnull=True), name="one_open_outage_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} provider failing since {self.first_failure_at:%Y-%m-%d %H:%M}"
