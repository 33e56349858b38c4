"""Reads about clients: the searchable client list. (Which address a channel uses is messaging's
business: ``messaging.addresses``.)"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from clients.models import Client


def client_list(*, query: str = "") -> QuerySet[Client]:
    """Clients for Clients > Client Management, searched by name, phone, e-mail or id."""
    qs = Client.objects.select_related("messaging").order_by("last_name", "first_name", "id")
    query = query.strip()
    if not query:
        return qs
    filters = Q()
    for word in query.split():
        filters &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(preferred_name__icontains=word)
            | Q(email__icontains=word)
        )
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 4:
        filters |= Q(phone__contains=digits) | Q(cell_phone__contains=digits)
    if query.isdigit():
        filters |= Q(pk=int(query))
    return qs.filter(filters)
