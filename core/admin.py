"""Administration › Audit: the PHI access log (search, filter, CSV export) and Django's own admin log, both
read-only: nobody adds, changes or deletes an entry here, one by one or in bulk. And ``PhiAccessLogged``,
which the admins of PHI models (clients, deliveries, what messages said, replies…) use to log who opened
their lists and records."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone

from core.access import access_log, filter_summary
from core.models import AccessKind, AccessLog

EXPORT_CHUNK = 2000


AUTOCOMPLETE_PAGE = 20  # django.contrib.admin.views.autocomplete.AutocompleteJsonView.paginate_by


class PhiAccessLogged(admin.ModelAdmin):
    """An admin of a model holding PHI: each list page shown writes one access-log row (the model, the
    filters with any search only as ``search=(given)``, the rows on the page), and so does each record
    opened (its id and, where ``access_client_field`` leads to one, the client's id). Put it first among
    the bases (``class ClientAdmin(PhiAccessLogged, admin.ModelAdmin)``)."""

    #: How to get from a record to its client's id ("pk" for the client itself, "appointment.client_id"…;
    #: "" when a record names no client).
    access_client_field = "client_id"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if response.status_code == 200 and changelist is not None:
            filters = {("search" if k == SEARCH_VAR else k): v for k, v in request.GET.items()}
            summary = filter_summary({"model": self.opts.label_lower, **filters}, private=["search"])
            access_log(request, kind=AccessKind.ADMIN_LIST, summary=summary, rows=len(changelist.result_list))
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        record = (getattr(response, "context_data", None) or {}).get("original")
        if response.status_code == 200 and record is not None:
            access_log(
                request,
                kind=AccessKind.ADMIN_RECORD,
                object_ids=[record.pk],
                client_id=self.access_client_id(record),
                summary=f"model={self.opts.label_lower}",
                rows=1,
            )
        return response

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """The admin's autocomplete (a client picked on an appointment or portal account) lists names as
        they are typed: each answer is logged as a list shown, the typed text only as ``(given)``."""
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            summary = filter_summary(
                {"model": self.opts.label_lower, "view": "autocomplete", "search": search_term}, private=["search"]
            )
            rows = len(queryset[:AUTOCOMPLETE_PAGE])  # what one answer shows (Django's page of 20)
            access_log(request, kind=AccessKind.ADMIN_LIST, summary=summary, rows=rows)
        return queryset, duplicates

    def access_client_id(self, record: Any) -> int | None:
        value: Any = record
        for name in filter(None, self.access_client_field.split(".")):
            value = getattr(value, name, None)
            if value is None:
                return None
        return value if isinstance(value, int) else None


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable only: no add, no change, no delete (so no bulk "Delete selected" either)."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "ip", "kind", "object_ids", "client_id", "rows", "summary")
    list_filter = ("kind", "at")
    date_hierarchy = "at"
    search_fields = ("username", "ip", "=object_ids", "client_id__exact", "summary")
    search_help_text = "A user name, an address, a delivery's or client's id, or a filter (e.g. channel=sms)."
    list_select_related = ()
    show_full_result_count = False
    change_list_template = "admin/core/accesslog/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        export = path("export.csv", self.admin_site.admin_view(self.export_view), name="core_accesslog_export")
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """The entries the change list shows (same search, filters and order), every page, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.GET = request.GET.copy()
        request.GET.pop(PAGE_VAR, None)  # every page, whichever the list showed
        try:
            queryset = self.get_changelist_instance(request).queryset
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Those filters are not valid.", content_type="text/plain")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(_csv_lines(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="phi-access-log-{stamp}.csv"'
        return response


COLUMNS = ("When", "User", "User id", "Address", "What", "Ids", "Client id", "Rows", "Filters")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    """A spreadsheet never runs a cell as a formula (a user name is typed by people)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_lines(queryset: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for entry in queryset.iterator(chunk_size=EXPORT_CHUNK):
        when = timezone.localtime(entry.at).isoformat(timespec="seconds")
        values = (when, entry.username, entry.user_id, entry.ip, entry.get_kind_display(), entry.object_ids)
        yield writer.writerow([_cell(v) for v in (*values, entry.client_id, entry.rows, entry.summary)])


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """Django's record of every add, change and delete made in this admin."""

    list_display = ("action_time", "user", "content_type", "object_id", "object_repr", "action_flag", "changes")
    list_filter = ("action_flag", "content_type")
    date_hierarchy = "action_time"
    search_fields = ("user__username", "=object_id", "object_repr")
    list_select_related = ("user", "content_type")

    @admin.display(description="Change")
    def changes(self, obj: LogEntry) -> str:
        return obj.get_change_message()
