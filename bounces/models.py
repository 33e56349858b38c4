"""The Do-Not-Send list (the seed's DNS) and soft-bounce bookkeeping."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class DnsChannel(models.TextChoices):
    """Which kind of address an entry blocks (a phone number blocks both texts and calls only per channel)."""

    EMAIL = "email", "Email"
    SMS = "sms", "Text (SMS)"
    VOICE = "voice", "Voice"
    FAX = "fax", "Fax"


class DnsReason(models.TextChoices):
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
    COMPLAINT = "complaint", "Spam complaint"
    SMS_STOP = "sms_stop", "Replied STOP"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCES = "soft_bounces", "Repeated soft bounces"
    PROVIDER = "provider", "Provider suppression list"
    STAFF = "staff", "Added by staff"


class DoNotSendEntry(models.Model):
    """An address (or, for e-mail, a whole domain) that must not be sent to on a channel.

    Entries are never deleted: removal records who, when and why. A soft-bounce suppression
    carries ``expires_at`` and stops applying by itself.
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
        return f"@{self.address}" if self.is_domain else self.address

    @property
    def suppression_category(self) -> str:
        """The category a delivery blocked by this entry shows: "Domain DNS" or "DNS"."""
        return "Domain DNS" if self.is_domain else "DNS"


class SoftBounce(models.Model):
    """One soft bounce of an address; enough of them within a window suppress the address for a while."""

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
