"""The EHR data that messaging reads: clients, their messaging contact profile, appointments, staff."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    # Civil time zones only: "right/…" and "posix/…" are copies that count leap seconds or repeat.
    zones = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "right/", "posix/"))
    )
    return [(z, z.replace("_", " ")) for z in zones]


class ContactMethod(models.TextChoices):
    """The seed's Preferred Contact Method options, in its order."""

    TEXT = "text", "Text Message"
    EMAIL = "email", "Email"
    CELL = "cell", "Cell Phone"
    FAX = "fax", "Fax"
    MAIL = "mail", "Mail"
    PHONE = "phone", "Phone"


class VoicemailChoice(models.TextChoices):
    """The answers to "OK to leave voicemail": the clinic's default (a messaging setting) or the client's own."""

    CLINIC_DEFAULT = "default", "Clinic default"
    YES = "yes", "Yes"
    NO = "no", "No"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"
    FRENCH = "fr", "French"
    VIETNAMESE = "vi", "Vietnamese"
    CHINESE = "zh", "Chinese"
    OTHER = "other", "Other"


class ContactFields(models.Model):
    """Address fields shared by the chart's basic information and the alternate messaging contact."""

    phone = PhoneNumberField("Phone", blank=True)
    cell_phone = PhoneNumberField("Cell phone", blank=True)
    email = models.EmailField("E-mail", blank=True)
    fax = PhoneNumberField("Fax", blank=True)
    address_line1 = models.CharField("Address", max_length=200, blank=True)
    address_line2 = models.CharField("Address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=50, blank=True)
    postal_code = models.CharField("ZIP / postal code", max_length=20, blank=True)

    class Meta:
        abstract = True


class Client(ContactFields):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    time_zone = models.CharField(
        max_length=64, blank=True, choices=time_zone_choices, help_text="Empty: the clinic's time zone."
    )
    preferred_language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    part2_diagnosis = models.BooleanField(
        "42 CFR Part 2 diagnosis",
        default=False,
        help_text="Substance-use-disorder program patient: neutral wording only, no HIE messages (setting 490).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def display_first_name(self) -> str:
        return self.preferred_name or self.first_name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)

    @property
    def portal_login(self) -> str:
        """The user name of the client's portal account ("" without one)."""
        try:
            return self.portal_account.user.get_username()
        except ObjectDoesNotExist:
            return ""


class MessagingProfile(models.Model):
    """The chart's Contacts tab > Client Automated Messaging Contact section."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="messaging")
    consent_given = models.BooleanField("Messaging Consent Given", default=False)
    consent_changed_at = models.DateTimeField(null=True, blank=True)
    consent_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    preferred_contact_method = models.CharField(
        "Preferred Contact Method", max_length=8, choices=ContactMethod.choices, default=ContactMethod.TEXT
    )
    use_client_detail_info = models.BooleanField(
        "Use Client Detail Info.",
        default=True,
        help_text="Yes: messages use the chart's basic information. No: the Messaging Contact is used.",
    )
    voicemail_ok = models.CharField(
        "OK to leave voicemail",
        max_length=8,
        choices=VoicemailChoice.choices,
        default=VoicemailChoice.CLINIC_DEFAULT,
        help_text="Clinic default: the clinic's setting decides (Yes unless changed). Yes / No: this client's "
        "own choice. If no, a call answered by a machine leaves no message.",
    )
    sms_opted_out = models.BooleanField(
        "Replied STOP to texts", default=False, help_text="Set by an SMS STOP reply, cleared by START."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Messaging profile of {self.client}"


class MessagingContact(ContactFields):
    """The alternate contact entered through the Messaging Contact button (used when Use Client Detail Info. is No)."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="messaging_contact")
    name = models.CharField("Contact name", max_length=200, blank=True)
    relationship = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Messaging contact of {self.client}"


class ProfileChange(models.Model):
    """Audit of changes to a client's messaging profile (consent, preference, ...): who, when, old -> new."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="profile_changes")
    field = models.CharField(max_length=64)
    old_value = models.CharField(max_length=255, blank=True)
    new_value = models.CharField(max_length=255, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=32, default="staff", help_text="staff, sms-keyword, unsubscribe, import")
    evidence = models.CharField(max_length=255, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]


class StaffProfile(models.Model):
    """Staff users: contact details and credential/licence renewal dates (for User Renewals)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    display_name = models.CharField(max_length=200, blank=True)
    credentials = models.CharField(max_length=50, blank=True, help_text="e.g. LCSW, PhD")
    phone = PhoneNumberField(blank=True)
    cell_phone = PhoneNumberField(blank=True)
    time_zone = models.CharField(max_length=64, blank=True, choices=time_zone_choices)
    is_clinician = models.BooleanField(default=False)
    licence_name = models.CharField("Licence", max_length=100, blank=True)
    licence_renewal_date = models.DateField(null=True, blank=True)
    credential_name = models.CharField("Credential", max_length=100, blank=True)
    credential_renewal_date = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"
    NO_SHOW = "no_show", "No-show"


class ConfirmationStatus(models.TextChoices):
    """What the client answered to a reminder; never changes the scheduling status by itself."""

    NONE = "none", "No reply"
    CONFIRMED = "confirmed", "Client confirmed"
    DECLINED = "declined", "Client asked to cancel"


class Appointment(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="appointments")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.SCHEDULED)
    confirmation = models.CharField(max_length=12, choices=ConfirmationStatus.choices, default=ConfirmationStatus.NONE)
    confirmation_at = models.DateTimeField("Client replied at", null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    is_telehealth = models.BooleanField(default=False)
    meeting_link = models.URLField(blank=True)
    is_initial = models.BooleanField("Initial appointment", default=False)
    created_at = models.DateTimeField("Booked at", default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["start", "status"])]

    def __str__(self) -> str:
        return f"{self.client} at {self.start:%Y-%m-%d %H:%M}"


class PortalAccount(models.Model):
    """A client's login to the client portal (setting 620 exposes the portal's message inbox)."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="portal_account")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_account")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Portal account of {self.client}"
