"""E-mail through Django's mail API: any anymail ESP or plain SMTP, chosen by ``EMAIL_BACKEND``.

Each message has a text and an HTML part, one-click unsubscribe headers (RFC 8058) pointing at
``email-unsubscribe`` (:mod:`messaging.channels.email.unsubscribe`) with the delivery's token, our
own ``Message-ID`` and an ``X-PIMSY-Delivery`` header (so bounce e-mails from self-hosted SMTP can
be matched: :mod:`messaging.channels.email.inbound`), and ``metadata = {"delivery_id": …}`` for
anymail ESPs — an opaque id only, never PHI. The ESP's message id (``anymail_status.message_id``)
is stored when the backend reports one; otherwise our Message-ID is.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.urls import NoReverseMatch, reverse

from bounces.smtp import classify_smtp
from bounces.taxonomy import Classification
from messaging.channels.base import SendResult, Transport, TransportError, refusal
from messaging.channels.email.mime import PolicyEmail

if TYPE_CHECKING:
    from messaging.models import Delivery
    from messaging.rendering import Rendered

REFUSED_STATUSES = frozenset({"rejected", "invalid", "failed"})


def from_address() -> str:
    from messaging.system_settings import get_setting

    return str(get_setting(276) or "") or settings.DEFAULT_FROM_EMAIL


def unsubscribe_url(token: str) -> str:
    try:
        path = reverse("email-unsubscribe", args=[token])
    except NoReverseMatch:  # the project's urls always mount it; keep sending if it is renamed
        path = f"/bounces/unsubscribe/{token}/"
    return settings.PUBLIC_BASE_URL + path


def message_domain() -> str:
    address = from_address()
    return address.rsplit("@", 1)[-1].strip(">") if "@" in address else "pimsy.invalid"


class EmailTransport(Transport):
    channel = "email"

    def __init__(self) -> None:
        self._connection: Any = None

    @contextmanager
    def session(self) -> Iterator[Transport]:
        """One backend connection (one SMTP session) for a batch of e-mails."""
        connection = get_connection(fail_silently=False)
        self._connection = connection
        try:
            yield self
        finally:
            self._connection = None
            with suppress(smtplib.SMTPException, OSError):
                connection.close()

    def _open(self) -> None:
        """Open the batch's connection before its first message (and again after a broken one).

        Django's backends close a connection at the end of ``send_messages`` when that call opened
        it: without this, every e-mail of a batch opened and closed its own SMTP session (connect,
        greeting, EHLO, QUIT), and anymail's HTTP backends their own HTTP session."""
        if self._connection is not None:
            self._connection.open()

    def _drop_connection(self) -> None:
        """A broken SMTP session is closed so the next message of the batch opens a new one."""
        if self._connection is not None:
            with suppress(smtplib.SMTPException, OSError):
                self._connection.close()

    def build(self, delivery: Delivery, rendered: Rendered) -> EmailMultiAlternatives:
        unsubscribe = unsubscribe_url(delivery.token)
        message = PolicyEmail(
            subject=rendered.email_subject,
            body=rendered.email_text,
            from_email=from_address(),
            to=[delivery.address],
            headers={
                "Message-ID": make_msgid(idstring=f"d{delivery.pk}", domain=message_domain()),
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                # Lets a raw bounce (DSN) from self-hosted SMTP be matched back to this delivery.
                "X-PIMSY-Delivery": delivery.token,
            },
            connection=self._connection,
        )
        if rendered.email_html:
            message.attach_alternative(rendered.email_html, "text/html")
        message.metadata = {"delivery_id": str(delivery.pk)}  # anymail ESPs; ignored by SMTP
        return message

    def send(self, delivery: Delivery, rendered: Rendered) -> SendResult:
        if not (rendered.email_subject or "").strip() or not (rendered.email_text or rendered.email_html):
            raise refusal("The e-mail template renders to an empty subject or body", "Bad-Configuration", ours=True)
        message = self.build(delivery, rendered)
        try:
            self._open()
            sent = message.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _from_recipientsrefusal(exc) from exc
        except smtplib.SMTPResponseException as exc:
            raise _from_smtp_reply(exc.smtp_code, exc.smtp_error) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError, socket.gaierror) as exc:
            self._drop_connection()
            raise TransportError(
                f"Mail server unreachable ({type(exc).__name__})", retryable=True, code="network"
            ) from exc
        except AnymailRecipientsRefused as exc:
            raise refusal("The e-mail provider refused the recipient", "DNS", code="rejected") from exc
        except AnymailAPIError as exc:
            raise _from_anymail_error(exc) from exc
        if not sent:
            raise TransportError("The mail backend sent nothing", retryable=True, code="not-sent")
        return _result(message, delivery)


def _result(message: EmailMultiAlternatives, delivery: Delivery) -> SendResult:
    status = getattr(message, "anymail_status", None)
    esp_id = getattr(status, "message_id", None) if status is not None else None
    statuses = set(getattr(status, "status", None) or ())
    if statuses and statuses <= REFUSED_STATUSES:
        raise refusal(f"The e-mail provider answered {sorted(statuses)}", "DNS", code=",".join(sorted(statuses)))
    has_esp_id = esp_id is not None and not isinstance(esp_id, set) and str(esp_id) != ""
    message_id = str(esp_id) if has_esp_id else str(message.extra_headers["Message-ID"])
    return SendResult(
        provider_message_id=message_id.strip("<>"),
        response={"message_id": message_id, "esp_status": sorted(statuses)},
        request={"to": delivery.address, "from": message.from_email, "html": bool(message.alternatives)},
    )


def _from_smtp_reply(code: int, reply: bytes | str) -> TransportError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    classification: Classification = classify_smtp(f"{code} {text}")
    return TransportError.refused(f"SMTP {code} {text}"[:300], classification, code=str(code))


def _from_recipientsrefusal(exc: smtplib.SMTPRecipientsRefused) -> TransportError:
    code, reply = next(iter(exc.recipients.values()), (0, b""))
    return _from_smtp_reply(code, reply)


def _from_anymail_error(exc: AnymailAPIError) -> TransportError:
    status = getattr(exc, "status_code", None)
    if status == 429:
        return TransportError("The e-mail provider throttled the request (429)", throttled=True, code="429")
    if status is None or status >= 500:
        return TransportError(
            f"The e-mail provider failed ({status or 'network'})", retryable=True, code=str(status or "network")
        )
    return refusal(
        f"The e-mail provider refused the request (HTTP {status})", "Bad-Configuration", code=str(status), ours=True
    )
