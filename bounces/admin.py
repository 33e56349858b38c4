from __future__ import annotations

from django.contrib import admin

from bounces.models import DoNotSendEntry, SoftBounce


@admin.register(DoNotSendEntry)
class DoNotSendEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "address", "is_domain", "reason", "category", "active", "expires_at")
    list_filter = ("channel", "reason", "active", "is_domain")
    search_fields = ("address",)
    readonly_fields = ("source_delivery", "removed_at", "removed_by")


@admin.register(SoftBounce)
class SoftBounceAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "channel", "address", "category")
    list_filter = ("channel", "category")
    search_fields = ("address",)
