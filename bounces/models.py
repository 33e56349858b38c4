"""The Do-Not-Send list (the seed's DNS), soft-failure bookkeeping and the pause policy."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.phones import display_phone


class DnsChannel(models.TextChoices):
    """Which kind of address an entry blocks (a phone number blocks both texts and calls only per channel)."""

    EMAIL = "email", "Email"
    SMS = "sms", "Text (SMS)"
    VOICE = "voice", "Voice"
    FAX = "fax", "Fax"

    # What the list knows of each kind of address, said once here (callers ask, never name a channel).
    @classmethod
    def holds_email(cls, channel: str) -> bool:
        """Whether ``channel``'s entries are e-mail addresses: stored lower-case; a whole domain may be blocked."""
        return channel == cls.EMAIL

    @classmethod
    def stop_channel(cls) -> DnsChannel:
        """The channel a STOP reply blocks and a START reply unblocks (texts)."""
        return cls.SMS


class DnsReason(models.TextChoices):
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
    COMPLAINT = "complaint", "Spam complaint"
    SMS_STOP = "sms_stop", "Replied STOP"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    # Not a Do-Not-Send reason proper: a pause that expires (SoftFailurePolicy). Messages to a paused
    # address wait until it ends; they never show DNS or Hard.
    SOFT_BOUNCES = "soft_bounces", "Paused after repeated soft failures"
    PROVIDER = "provider", "Provider suppression list"
    STAFF = "staff", "Added by staff"


class DoNotSendEntry(models.Model):
    """An address (or, for e-mail, a whole domain) that must not be sent to on a channel.

    Entries are never deleted: removal records who, when and why. A pause after repeated soft
    failures (reason ``soft_bounces``) carries ``expires_at``, stops applying by itself and is not a
    block: messages to the address wait until it ends (``category`` keeps the soft category).
    """

    channel = models.CharField(max_length=8, choices=DnsChannel.choices)
    address = models.CharField(max_length=254, help_text="E.164 number, e-mail address, or domain")
    is_domain = models.BooleanField(default=False, help_text="Blocks every address at this e-mail domain.")
    reason = models.CharField(max_length=16, choices=DnsReason.choices)
    category = models.CharField(max_length=24, blank=True)
    note = models.CharField(max_length=255, blank=True)
    source_delivery = models.ForeignKey(
        "messaging.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removal_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "Do-Not-Send entry"
        verbose_name_plural = "Do-Not-Send list"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "address", "is_domain"],
                condition=Q(active=True),
                name="one_active_dns_entry",
            )
        ]
        indexes = [models.Index(fields=["channel", "address"], name="dns_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.display_address} ({self.get_reason_display()})"

    @property
    def display_address(self) -> str:
        """As staff read it: a domain with its @, a phone number in the one display format (core.phones)."""
        return f"@{self.address}" if self.is_domain else display_phone(self.address)

    @property
    def is_pause(self) -> bool:
        """A pause after repeated soft failures (it expires; messages wait), not a Do-Not-Send block."""
        return self.reason == DnsReason.SOFT_BOUNCES

    @property
    def suppression_category(self) -> str:
        """The category a delivery held by this entry shows: "Domain DNS" or "DNS" for a block, the
        underlying soft category (e.g. "Quota-Issues") for a pause."""
        if self.is_pause:
            return self.category
        return "Domain DNS" if self.is_domain else "DNS"


class SoftBounce(models.Model):
    """One message to an address that ended failed (soft) after all its redials and resends.

    One row per message (a redial or resend is not a new one); enough of them within the window of
    :class:`SoftFailurePolicy` pause the address for a while.
    """

    channel = models.CharField(max_length=8, choices=DnsChannel.choices)
    address = models.CharField(max_length=254)
    category = models.CharField(max_length=24)
    delivery = models.ForeignKey("messaging.Delivery", null=True, blank=True, on_delete=models.SET_NULL)
    occurred_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when a later message got through: the bounce stops counting."
    )

    class Meta:
        indexes = [models.Index(fields=["channel", "address", "occurred_at"], name="softbounce_window_idx")]


class SoftFailurePolicy(models.Model):
    """When repeated soft failures pause an address (one row, edited in the admin; every change is
    kept in the admin's history). Without a row the environment's ``SOFT_BOUNCE_*`` values apply."""

    failed_messages = models.PositiveSmallIntegerField(
        "failed messages before a pause",
        default=3,
        validators=[MaxValueValidator(100)],
        help_text=(
            "Messages to one address (on one channel) that ended failed with a soft category after all "
            "their redials and resends. 0 turns pausing off."
        ),
    )
    window_days = models.PositiveSmallIntegerField(
        "within days",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Only failures within this many days count; a delivered message clears them.",
    )
    pause_days = models.PositiveSmallIntegerField(
        "pause for days",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="How long messages to the address wait; they go out when the pause ends.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "soft-failure pause policy"
        verbose_name_plural = "soft-failure pause policy"

    def __str__(self) -> str:
        if not self.failed_messages:
            return "Pausing after soft failures is off"
        return (
            f"Pause for {self.pause_days} days after {self.failed_messages} failed messages "
            f"within {self.window_days} days"
        )
