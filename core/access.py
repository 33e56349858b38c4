"""Recording who viewed or exported PHI: ``access_log`` (one row, called from a view) and ``logs_access``
(the same for a view that shows one object named by its URL's ``pk``).

What goes in is ids, counts and filter names with their values — never a name, an address or the text
typed into a search (``filter_summary`` keeps only that a search was given)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from core.models import AccessLog
from core.web import client_ip

SUMMARY_LENGTH = AccessLog._meta.get_field("summary").max_length or 500
IDS_LENGTH = AccessLog._meta.get_field("object_ids").max_length or 255


def access_log(
    request: HttpRequest,
    *,
    kind: str,
    object_ids: Iterable[object] = (),
    client_id: int | None = None,
    summary: str = "",
    rows: int | None = None,
) -> AccessLog:
    """Record that ``request.user`` viewed (or exported) ``kind``: ``object_ids`` / ``client_id`` for one
    record, ``summary`` (see ``filter_summary``) and ``rows`` for a list. One INSERT."""
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return AccessLog.objects.create(
        user=user if signed_in else None,
        username=user.get_username() if signed_in else "",
        ip=client_ip(request) or None,
        kind=kind,
        object_ids=",".join(str(i) for i in object_ids)[:IDS_LENGTH],
        client_id=client_id,
        summary=summary[:SUMMARY_LENGTH],
        rows=rows,
    )


def logs_access(kind: str, *, client: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view showing the object whose id is the URL's ``pk`` (``client=True``: a client's):
    a successful (2xx) answer is logged; a 404, 403 or redirect is not (nothing was shown)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            response = view(request, *args, **kwargs)
            if isinstance(response, HttpResponseBase) and 200 <= response.status_code < 300:
                pk = kwargs.get("pk")
                ids = [] if pk is None else [pk]
                access_log(request, kind=kind, object_ids=ids, client_id=pk if client else None)
            return response

        return wrapper

    return decorate


def filter_summary(values: Mapping[str, object], *, private: Iterable[str] = ()) -> str:
    """``name=value`` of every filter that is set, ``; ``-separated. A ``private`` one (a search for a
    name, a phone number or an e-mail address) shows as ``name=(given)``, never its text."""
    hidden = set(private)
    parts = []
    for name, value in values.items():
        if value in (None, "", False):
            continue
        if name in hidden:
            text = "(given)"
        elif value is True:
            text = "yes"
        elif isinstance(value, dt.date):
            text = value.isoformat()
        else:
            text = str(value)
        parts.append(f"{name}={text}")
    return "; ".join(parts)
