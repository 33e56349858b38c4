from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from bounces.models import DoNotSendEntry, SoftBounce


@admin.register(DoNotSendEntry)
class DoNotSendEntryAdmin(admin.ModelAdmin):
    """Read-mostly: staff add and remove entries on Utilities > Do-Not-Send List (removal needs a reason)."""

    list_display = ("created_at", "channel", "address", "is_domain", "reason", "category", "active", "expires_at")
    list_filter = ("channel", "reason", "active", "is_domain")
    search_fields = ("address", "note", "removal_reason")
    readonly_fields = ("source_delivery", "created_at", "created_by", "removed_at", "removed_by", "removal_reason")
    list_select_related = ("source_delivery",)

    def has_delete_permission(self, request: HttpRequest, obj: DoNotSendEntry | None = None) -> bool:
        return False  # entries are never deleted: removal is recorded


@admin.register(SoftBounce)
class SoftBounceAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "channel", "address", "category", "cleared_at")
    list_filter = ("channel", "category")
    search_fields = ("address",)
    raw_id_fields = ("delivery",)
