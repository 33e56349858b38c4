from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from clients.models import Appointment, Client, MessagingContact, MessagingProfile, ProfileChange, StaffProfile


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
