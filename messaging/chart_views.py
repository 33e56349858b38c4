"""The client chart's Messages tab (issue 14 §3): a messaging page that wears the chart's header.

``clients`` never imports ``messaging``, so the tab is served here: ``templates/clients/chart.html``
links to it by URL name and this page includes that template's ``chart-header`` partial (the header
and the tab strip, with Messages active).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from clients.models import Client
from core.access import access_log, filter_summary
from core.models import AccessKind
from messaging.chart_messages import Cursor, chart_messages

PAGE = "messaging/chart_messages.html"


@login_required
@permission_required(["clients.view_client", "messaging.view_history"], raise_exception=True)
@require_GET
def client_messages(request: HttpRequest, pk: int) -> HttpResponse:
    """Every message to the client, their replies, consent and contact changes and Do-Not-Send entries,
    newest first, a page at a time ("Older" follows ``?after=<cursor>``)."""
    client = get_object_or_404(Client, pk=pk)
    after = Cursor.decode(request.GET.get("after"))
    page = chart_messages(client, after=after)
    summary = filter_summary({"tab": "messages", "page": "older" if after else ""})
    access_log(
        request, kind=AccessKind.CLIENT_CHART, object_ids=[pk], client_id=pk, summary=summary, rows=len(page.items)
    )
    context = {
        "client": client,
        "tab": "messages",
        "page": page,
        "after": after,
        "history_url": f"{reverse('messaging:history')}?client={pk}",
    }
    return render(request, f"{PAGE}#timeline" if request.htmx else PAGE, context)
