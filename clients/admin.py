from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.http import HttpRequest

from clients.models import (
    Appointment,
    AppointmentReply,
    AutomationRule,
    Client,
    MessagingContact,
    MessagingProfile,
    PortalAccount,
    ProfileChange,
    StaffProfile,
)


class MessagingProfileInline(admin.StackedInline):
    model = MessagingProfile
    can_delete = False
    readonly_fields = ("consent_changed_at", "consent_changed_by")


class MessagingContactInline(admin.StackedInline):
    model = MessagingContact
    can_delete = True
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = (
        "last_name",
        "first_name",
        "date_of_birth",
        "cell_phone",
        "email",
        "time_zone",
        "part2_diagnosis",
        "is_active",
    )
    list_filter = (
        "is_active",
        "part2_diagnosis",
        "preferred_language",
        "messaging__consent_given",
        "messaging__preferred_contact_method",
    )
    search_fields = ("last_name", "first_name", "email", "phone", "cell_phone", "=id")
    inlines = [MessagingProfileInline, MessagingContactInline]
    list_per_page = 50


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("start", "client", "clinician", "status", "confirmation", "is_telehealth", "is_initial")
    list_filter = ("status", "confirmation", "is_telehealth", "is_initial")
    search_fields = ("client__last_name", "client__first_name", "clinician__username", "clinician__last_name")
    date_hierarchy = "start"
    autocomplete_fields = ("client",)
    list_select_related = ("client", "clinician")
    readonly_fields = ("confirmation_at",)
    actions = ["mark_cancelled"]

    def save_model(self, request: HttpRequest, obj: Appointment, form: Any, change: bool) -> None:
        """Saving re-plans the automated messages: booked, moved, cancelled or completed."""
        from messaging.automation import appointment_changed

        before = Appointment.objects.filter(pk=obj.pk).first() if change else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            appointment_changed(appointment=obj, before=before)

    @admin.action(description="Cancel the selected appointments (and their pending reminders)")
    def mark_cancelled(self, request: HttpRequest, queryset: Any) -> None:
        from clients.models import AppointmentStatus
        from messaging.automation import appointment_cancelled

        with transaction.atomic():
            for appointment in queryset.select_for_update():
                appointment.status = AppointmentStatus.CANCELLED
                appointment.save(update_fields=["status", "updated_at"])
                appointment_cancelled(appointment)


@admin.register(AppointmentReply)
class AppointmentReplyAdmin(admin.ModelAdmin):
    list_display = ("received_at", "appointment", "answer", "source", "text", "reviewed_at", "reviewed_by")
    list_filter = ("answer", "source")
    list_select_related = ("appointment__client", "reviewed_by")
    readonly_fields = ("appointment", "answer", "source", "text", "inbound", "delivery", "received_at")


class AutomationRuleForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        choices=[("sms", "Text (SMS)"), ("email", "Email"), ("voice", "Voice"), ("fax", "Fax")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: the recipient's preferred contact method.",
    )

    class Meta:
        model = AutomationRule
        fields = ["message_type", "amount", "unit", "channels", "active", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        unit, amount = data.get("unit"), data.get("amount")
        limits = {"m": 60 * 24 * 7, "h": 24 * 60, "d": 365}
        if unit in limits and amount is not None and amount > limits[unit]:
            self.add_error("amount", f"At most {limits[unit]} {dict(self.fields['unit'].choices)[unit]}.")
        return data


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    """Extra send times per automated message type (no code needed); the planner reads them each minute."""

    form = AutomationRuleForm
    list_display = ("message_type", "when", "channel_list", "active", "note")
    list_filter = ("message_type", "active")
    list_select_related = ("message_type",)

    @admin.display(description="Send time")
    def when(self, obj: AutomationRule) -> str:
        from messaging.automation import AUTO_TYPES, BOOKED, END, START

        spec = AUTO_TYPES.get(obj.message_type.code)
        anchor = {
            START: "before the appointment",
            BOOKED: "after the booking",
            END: "after the appointment ends",
        }.get(spec.anchor if spec else "", "before the renewal date")
        return f"{obj.amount} {obj.get_unit_display()} {anchor}"

    @admin.display(description="Contact methods")
    def channel_list(self, obj: AutomationRule) -> str:
        from messaging.automation import channel_names

        return channel_names(obj.channels) if obj.channels else "Preferred contact method"


@admin.register(PortalAccount)
class PortalAccountAdmin(admin.ModelAdmin):
    list_display = ("client", "user", "is_active", "created_at")
    list_filter = ("is_active",)
    autocomplete_fields = ("client",)
    raw_id_fields = ("user",)


@admin.register(ProfileChange)
class ProfileChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "client", "field", "old_value", "new_value", "changed_by", "source")
    list_filter = ("field", "source")
    search_fields = ("client__last_name", "client__first_name")
    readonly_fields = [f.name for f in ProfileChange._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [StaffProfileInline]
    list_display = ("username", "first_name", "last_name", "email", "is_staff", "is_active")
