from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from bounces.conf import environment_defaults
from bounces.models import DoNotSendEntry, SoftBounce, SoftFailurePolicy
from core.admin import PhiAccessLogged


@admin.register(DoNotSendEntry)
class DoNotSendEntryAdmin(PhiAccessLogged, admin.ModelAdmin):
    """Read-mostly: staff add and remove entries on Utilities > Do-Not-Send List (removal needs a reason)."""

    list_display = ("created_at", "channel", "address", "is_domain", "reason", "category", "active", "expires_at")
    list_filter = ("channel", "reason", "active", "is_domain")
    search_fields = ("address", "note", "removal_reason")
    readonly_fields = ("source_delivery", "created_at", "created_by", "removed_at", "removed_by", "removal_reason")
    list_select_related = ("source_delivery",)

    def has_delete_permission(self, request: HttpRequest, obj: DoNotSendEntry | None = None) -> bool:
        return False  # entries are never deleted: removal is recorded


@admin.register(SoftBounce)
class SoftBounceAdmin(PhiAccessLogged, admin.ModelAdmin):
    """One row per message that ended failed (soft): what the pause counts."""

    access_client_field = "delivery.client_id"

    list_display = ("occurred_at", "channel", "address", "category", "delivery", "cleared_at")
    list_filter = ("channel", "category")
    search_fields = ("address",)
    raw_id_fields = ("delivery",)


@admin.register(SoftFailurePolicy)
class SoftFailurePolicyAdmin(admin.ModelAdmin):
    """One row: the list opens it (or the form to create it, with the environment's values).

    Each change is kept in the row's History (old and new values, who, when)."""

    fields = ("failed_messages", "window_days", "pause_days", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not SoftFailurePolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: SoftFailurePolicy | None = None) -> bool:
        return False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {**environment_defaults(), **super().get_changeform_initial_data(request)}

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        row = SoftFailurePolicy.objects.order_by("pk").first()
        if row is not None:
            return HttpResponseRedirect(reverse("admin:bounces_softfailurepolicy_change", args=[row.pk]))
        return HttpResponseRedirect(reverse("admin:bounces_softfailurepolicy_add"))

    def save_model(self, request: HttpRequest, obj: SoftFailurePolicy, form: forms.ModelForm, change: bool) -> None:
        obj.updated_by = request.user if request.user.is_authenticated else None
        super().save_model(request, obj, form, change)

    def construct_change_message(
        self, request: HttpRequest, form: forms.ModelForm, formsets: Any, add: bool = False
    ) -> str:
        """ "Failed messages before a pause: 3 → 5" for each changed field (kept in the row's History)."""
        names = form.changed_data if not add else list(self.fields[:3])
        changes = [
            f"{form.fields[name].label}: {form.initial.get(name, '—') if not add else '—'} → {form.cleaned_data[name]}"
            for name in names
            if name in form.cleaned_data
        ]
        return "; ".join(changes) or "No fields changed."
