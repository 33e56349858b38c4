from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from core.admin import PhiAccessLogged, ReadOnlyAdmin
from messaging.automation import AUTO_TYPES, BOOKED, END, START, channel_names
from messaging.models import (
    AppointmentReply,
    Attempt,
    AutomationRule,
    Broadcast,
    Channel,
    Delivery,
    InboundMessage,
    MessageContent,
    MessageTemplate,
    MessageType,
    ProviderEvent,
    SystemSetting,
    SystemSettingChange,
    TemplateVersion,
)
from messaging.services_settings import setting_check, setting_update
from messaging.system_settings import REGISTRY


class SystemSettingForm(forms.ModelForm):
    class Meta:
        model = SystemSetting
        fields = ["value"]

    def clean_value(self) -> str:
        definition = REGISTRY.get(self.instance.number)
        if definition is None:
            raise ValidationError("Unknown setting number.")
        from messaging.system_settings import format_value

        # Its type, and agreement with related settings (a stop time after the start of the day).
        return format_value(definition, setting_check(number=self.instance.number, value=self.cleaned_data["value"]))


@admin.register(SystemSetting)
class SystemSettingAdmin(admin.ModelAdmin):
    form = SystemSettingForm
    list_display = ("number", "setting_name", "kind", "value", "updated_at", "updated_by")
    search_fields = ("=number", "value")
    readonly_fields = ("number", "setting_name", "kind", "help", "default", "updated_at", "updated_by")
    fields = ("number", "setting_name", "kind", "help", "default", "value", "updated_at", "updated_by")

    @admin.display(description="Name")
    def setting_name(self, obj: SystemSetting) -> str:
        return REGISTRY[obj.number].name if obj.number in REGISTRY else "?"

    @admin.display(description="Type")
    def kind(self, obj: SystemSetting) -> str:
        return REGISTRY[obj.number].kind.value if obj.number in REGISTRY else "?"

    @admin.display(description="Help")
    def help(self, obj: SystemSetting) -> str:
        return REGISTRY[obj.number].help if obj.number in REGISTRY else ""

    @admin.display(description="Default")
    def default(self, obj: SystemSetting) -> str:
        return REGISTRY[obj.number].default if obj.number in REGISTRY else ""

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """Search by number, value, or the setting's name from the registry."""
        queryset, may_dup = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().lower()
        if term:
            by_name = [n for n, d in REGISTRY.items() if term in d.name.lower()]
            queryset = queryset | self.model.objects.filter(number__in=by_name)
        return queryset, may_dup

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SystemSetting, form: forms.ModelForm, change: bool) -> None:
        setting_update(number=obj.number, value=form.cleaned_data["value"], user=request.user)


@admin.register(SystemSettingChange)
class SystemSettingChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "number", "old_value", "new_value", "changed_by")
    list_filter = ("number",)
    search_fields = ("=number",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # an audit row stays (also no bulk "Delete selected")


class MessageTemplateInline(admin.StackedInline):
    model = MessageTemplate
    extra = 0


@admin.register(MessageType)
class MessageTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "audience", "selection", "is_manual", "is_hie", "setting_number", "active", "sort_order")
    list_filter = ("audience", "is_manual", "active")
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}
    inlines = [MessageTemplateInline]


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in Attempt._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(PhiAccessLogged, admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "recipient_name",
        "channel",
        "address",
        "status",
        "bounce_category",
        "hard_bounce",
        "attempt_count",
    )
    list_filter = ("status", "channel", "hard_bounce", "bounce_category")
    search_fields = ("=id", "address", "recipient_name", "provider_message_id")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [AttemptInline]
    list_select_related = ("message_type",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """What a client was sent stays on record (its attempts and provider events go with it)."""
        return False


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "message_type",
        "description",
        "broadcast_at",
        "state",
        "automated",
        "created_by",
    )
    list_filter = ("state", "automated", "message_type")
    search_fields = ("=id", "description")
    # Who sent it, when, what and how stay as recorded; only the description (History's label) can be
    # corrected here. A broadcast is made on the New tab and cancelled there (its open messages too).
    readonly_fields = [f.name for f in Broadcast._meta.fields if f.name not in ("id", "description")]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Deleting a broadcast would delete its deliveries: what clients were sent stays on record."""
        return False


@admin.register(ProviderEvent)
class ProviderEventAdmin(PhiAccessLogged, ReadOnlyAdmin):
    access_client_field = "delivery.client_id"
    list_display = ("received_at", "provider", "event_type", "status", "delivery", "applied")
    list_filter = ("provider", "event_type", "applied")
    search_fields = ("event_id",)


@admin.register(InboundMessage)
class InboundMessageAdmin(PhiAccessLogged, ReadOnlyAdmin):
    list_display = ("received_at", "from_number", "keyword", "client", "appointment")
    search_fields = ("from_number",)


@admin.register(AppointmentReply)
class AppointmentReplyAdmin(PhiAccessLogged, admin.ModelAdmin):
    access_client_field = "appointment.client_id"
    list_display = ("received_at", "appointment", "answer", "source", "text", "reviewed_at", "reviewed_by")
    list_filter = ("answer", "source")
    list_select_related = ("appointment__client", "reviewed_by")
    readonly_fields = ("appointment", "answer", "source", "text", "inbound", "delivery", "received_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Replies come from clients (a text, a keypad press) or the Scheduled Appointments screen."""
        return False


class AutomationRuleForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        choices=Channel.choices,
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
        spec = AUTO_TYPES.get(obj.message_type.code)
        anchor = {
            START: "before the appointment",
            BOOKED: "after the booking",
            END: "after the appointment ends",
        }.get(spec.anchor if spec else "", "before the renewal date")
        return f"{obj.amount} {obj.get_unit_display()} {anchor}"

    @admin.display(description="Contact methods")
    def channel_list(self, obj: AutomationRule) -> str:
        return channel_names(obj.channels) if obj.channels else "Preferred contact method"


@admin.register(TemplateVersion)
class TemplateVersionAdmin(ReadOnlyAdmin):
    """Every version a message was created from (messaging.content): old versions stay readable."""

    list_display = ("message_type", "channel", "language", "number", "created_at")
    list_filter = ("channel", "language", "message_type")
    fields = (
        "message_type",
        "channel",
        "language",
        "number",
        "created_at",
        "sms_body",
        "email_subject",
        "email_text",
        "email_html",
        "voice_script",
        "voice_audio",
        "voice_audio_sha256",
        "fax_body",
        "digest",
    )


@admin.register(MessageContent)
class MessageContentAdmin(PhiAccessLogged, ReadOnlyAdmin):
    """What messages said as they went out (one row per distinct content)."""

    list_display = ("created_at", "channel", "subject", "encoding", "segments")
    list_filter = ("channel",)
    fields = ("channel", "created_at", "subject", "text", "encoding", "segments", "audio", "audio_sha256", "digest")
