"""Faxes through an HTTP fax API in the Sinch Fax v3 shape (``messaging.channels.fax.api``).

The template's fax text is rendered to a one-or-more-page Letter PDF with fpdf2, posted with a
callback URL that carries the delivery's token and the callback credentials (HTTP basic auth,
``FAX_CALLBACK_USER`` / ``FAX_CALLBACK_PASSWORD``), which the fax webhook checks.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from fpdf import FPDF

from messaging.channels.base import SendResult, Transport, TransportError, public_url, refusal
from messaging.channels.fax.api import FaxApiClient, FaxApiError

if TYPE_CHECKING:
    from messaging.models import Delivery
    from messaging.rendering import Rendered

FONT_SIZE = 12
LINE_HEIGHT = 7


@functools.cache
def fax_client() -> FaxApiClient:
    return FaxApiClient(
        base_url=settings.FAX_API_BASE,
        project_id=settings.FAX_PROJECT_ID,
        key_id=settings.FAX_KEY_ID,
        key_secret=settings.FAX_KEY_SECRET,
    )


def render_pdf(text: str, *, title: str = "") -> bytes:
    """A plain Letter-size PDF of ``text`` (core Helvetica: Latin-1; other characters become '?')."""
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    if title:
        pdf.set_font("Helvetica", style="B", size=FONT_SIZE + 4)
        pdf.multi_cell(0, LINE_HEIGHT + 2, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    pdf.set_font("Helvetica", size=FONT_SIZE)
    pdf.multi_cell(0, LINE_HEIGHT, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def callback_url(token: str) -> str:
    """The status callback URL with the callback credentials as its user-info (basic auth)."""
    url = public_url("webhooks:fax-status", token)
    user, password = settings.FAX_CALLBACK_USER, settings.FAX_CALLBACK_PASSWORD
    if not user:
        return url
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


class FaxTransport(Transport):
    channel = "fax"

    def send(self, delivery: Delivery, rendered: Rendered) -> SendResult:
        text = (rendered.fax_text or "").strip()
        if not text:
            raise refusal("The fax template renders to an empty document", "Bad-Configuration", ours=True)
        pdf = render_pdf(text, title=settings.PRACTICE_NAME)
        try:
            fax = fax_client().send_fax(
                to=delivery.address,
                pdf=pdf,
                filename=f"message-{delivery.pk}.pdf",
                callback_url=callback_url(delivery.token),
            )
        except FaxApiError as exc:
            raise from_fax_error(exc) from exc
        fax_id = str(fax.get("id") or "")
        if not fax_id:
            raise TransportError("The fax API answered without a fax id", ambiguous=True, code="no-id")
        return SendResult(
            provider_message_id=fax_id,
            response={"id": fax_id, "status": fax.get("status"), "pages": fax.get("numberOfPages")},
            request={"to": delivery.address, "pdf_bytes": len(pdf), "pdf_sha256": hashlib.sha256(pdf).hexdigest()},
        )


def from_fax_error(exc: FaxApiError) -> TransportError:
    summary = {"http_status": exc.status, "code": exc.code, "message": str(exc.message)[:300]}
    if exc.status == 429:
        return TransportError("The fax API throttled the request (429)", throttled=True, code="429", response=summary)
    if exc.code == "read_timeout":
        return TransportError(
            "No answer from the fax API; the fax may have been accepted",
            ambiguous=True,
            code="read_timeout",
            response=summary,
        )
    if exc.retryable:
        return TransportError(
            f"The fax API is unavailable ({exc.status or exc.code})",
            retryable=True,
            code=str(exc.status or exc.code),
            response=summary,
        )
    if exc.status == 400 and "'to'" in exc.message:
        return refusal(f"The fax API refused the number: {exc.message}", "Bad-Mailbox", code="400")
    return refusal(
        f"The fax API refused the request ({exc.status} {exc.code}): {exc.message}"[:300],
        "Bad-Configuration",
        code=str(exc.status or ""),
        ours=True,
    )
