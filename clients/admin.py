from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.http import HttpRequest

from clients.models import (
    Appointment,
    AppointmentStatus,
    Client,
    MessagingContact,
    MessagingProfile,
    PortalAccount,
    ProfileChange,
    StaffProfile,
)
from clients.services import (
    ALTERNATE_PREFIX,
    AUDITED_ALTERNATE_FIELDS,
    AUDITED_CONTACT_FIELDS,
    AUDITED_PROFILE_FIELDS,
    changes_audit,
    snapshot,
)
from clients.signals import appointment_changed
from core.admin import PhiAccessLogged

# Inline rows whose changes are audited (issue 13, row 8): their fields, and the audit rows' prefix.
AUDITED_INLINES: dict[type, tuple[tuple[str, ...], str]] = {
    MessagingProfile: (AUDITED_PROFILE_FIELDS, ""),
    MessagingContact: (AUDITED_ALTERNATE_FIELDS, ALTERNATE_PREFIX),
}


class MessagingProfileInline(admin.StackedInline):
    model = MessagingProfile
    can_delete = False
    readonly_fields = ("consent_changed_at", "consent_changed_by")


class MessagingContactInline(admin.StackedInline):
    model = MessagingContact
    can_delete = True
    extra = 0


@admin.register(Client)
class ClientAdmin(PhiAccessLogged, admin.ModelAdmin):
    access_client_field = "pk"
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

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool) -> None:
        """Saving audits every changed address (phones, e-mail, fax, postal address), as the chart does."""
        before = snapshot(Client.objects.filter(pk=obj.pk).first(), AUDITED_CONTACT_FIELDS) if change else None
        super().save_model(request, obj, form, change)
        if change:  # a new client's first values are not a change
            fields = AUDITED_CONTACT_FIELDS
            changes_audit(client=obj, before=before, after=obj, fields=fields, user=request.user, source="admin")

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Consent, preferences and the alternate contact's addresses are audited here too."""
        fields, prefix = AUDITED_INLINES.get(formset.model, ((), ""))
        if not fields or not change:
            super().save_formset(request, form, formset, change)
            return
        client = form.instance
        before = snapshot(formset.model.objects.filter(client=client).first(), fields)
        super().save_formset(request, form, formset, change)
        after = formset.model.objects.filter(client=client).first()
        if before is None and after is None:
            return
        changes_audit(
            client=client, before=before, after=after, fields=fields, user=request.user, source="admin", prefix=prefix
        )


@admin.register(Appointment)
class AppointmentAdmin(PhiAccessLogged, admin.ModelAdmin):
    list_display = ("start", "client", "clinician", "status", "confirmation", "is_telehealth", "is_initial")
    list_filter = ("status", "confirmation", "is_telehealth", "is_initial")
    search_fields = ("client__last_name", "client__first_name", "clinician__username", "clinician__last_name")
    date_hierarchy = "start"
    autocomplete_fields = ("client",)
    list_select_related = ("client", "clinician")
    readonly_fields = ("confirmation_at",)
    actions = ["mark_cancelled"]

    def save_model(self, request: HttpRequest, obj: Appointment, form: Any, change: bool) -> None:
        """Saving tells whoever listens (messaging re-plans the automated messages) what changed."""
        before = Appointment.objects.filter(pk=obj.pk).first() if change else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            appointment_changed.send(sender=Appointment, appointment=obj, before=before)

    @admin.action(description="Cancel the selected appointments (and their pending reminders)")
    def mark_cancelled(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for appointment in queryset.select_for_update():
                before = Appointment.objects.get(pk=appointment.pk)
                appointment.status = AppointmentStatus.CANCELLED
                appointment.save(update_fields=["status", "updated_at"])
                appointment_changed.send(sender=Appointment, appointment=appointment, before=before)


@admin.register(PortalAccount)
class PortalAccountAdmin(PhiAccessLogged, admin.ModelAdmin):
    list_display = ("client", "user", "is_active", "created_at")
    list_filter = ("is_active",)
    autocomplete_fields = ("client",)
    raw_id_fields = ("user",)


@admin.register(ProfileChange)
class ProfileChangeAdmin(PhiAccessLogged, admin.ModelAdmin):
    list_display = ("changed_at", "client", "field", "old_value", "new_value", "changed_by", "source")
    list_filter = ("field", "source")
    search_fields = ("client__last_name", "client__first_name")
    readonly_fields = [f.name for f in ProfileChange._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False  # an audit row stays (also no bulk "Delete selected")


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [StaffProfileInline]
    list_display = ("username", "first_name", "last_name", "email", "is_staff", "is_active")
