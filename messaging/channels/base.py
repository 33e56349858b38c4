"""What every channel provides: one ``Transport`` class with one entry point, one error type.

A transport sends one delivery through its provider and answers a :class:`SendResult`, or raises
:class:`TransportError` saying what kind of failure it was. It never touches the database: the
dispatcher (``messaging.dispatch``) writes the attempt before the call and the outcome after it.

Each channel's spec (``messaging.channels.registry``) names its transport class, imported lazily so
a channel's provider libraries load only where that channel is used. CONTRIBUTING's "Adding a
channel" says the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from bounces.taxonomy import Category, Classification
from messaging.channels.registry import spec_for

if TYPE_CHECKING:
    from messaging.models import Delivery
    from messaging.rendering import Rendered


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message: its id, our resulting status, a short response summary."""

    provider_message_id: str
    status: str = "sent"
    response: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)


class TransportError(Exception):
    """A send that did not go through.

    * ``classification`` – the failure's bounce category when the provider refused the message
      (then ``permanent`` follows its hard/soft kind): the bounce policy applies.
    * ``throttled`` – the provider asked us to slow down (HTTP 429 / Twilio 20429): retried with
      back-off, not a bounce; ``retry_after`` is the provider's hint in seconds, if any.
    * ``retryable`` without a classification – a network or provider outage before the message
      was handed over: retried with back-off.
    * ``ambiguous`` – the request may have reached the provider (read timeout, connection reset
      after sending): treated like a worker that died mid-send — the delivery is restarted only
      after the restart grace period, so the provider's callback can arrive first.
    * ``redial`` – the line may work when dialled again (voice / fax busy, no answer).
    """

    def __init__(
        self,
        message: str,
        *,
        classification: Classification | None = None,
        retryable: bool = False,
        permanent: bool = False,
        throttled: bool = False,
        ambiguous: bool = False,
        redial: bool = False,
        retry_after: float | None = None,
        code: str = "",
        response: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.classification = classification
        self.retryable = retryable
        self.permanent = permanent
        self.throttled = throttled
        self.ambiguous = ambiguous
        self.redial = redial
        self.retry_after = retry_after
        self.code = str(code or "")
        self.response = response or {}

    @classmethod
    def refused(cls, message: str, classification: Classification, *, code: str = "", **kw: Any) -> TransportError:
        """The provider refused this message for a reason the bounce taxonomy classifies."""
        return cls(
            message,
            classification=classification,
            retryable=bool(classification.retryable),
            permanent=bool(classification.hard),
            code=code,
            **kw,
        )


class NotKnown(Exception):
    """The provider does not know this id (404) when asked for a message's status: nothing to apply;
    ask again later (``ChannelSpec.status_lookup``, messaging.dispatch.reconcile)."""


class Transport:
    """Sends one delivery through one provider. Subclasses set ``channel`` and implement ``send``."""

    channel: str = ""

    def send(self, delivery: Delivery, rendered: Rendered) -> SendResult:
        raise NotImplementedError

    @contextmanager
    def session(self) -> Iterator[Transport]:
        """A batch of sends (e.g. one SMTP connection for many e-mails); default: nothing to open."""
        yield self


@cache
def _transport_class(channel: str) -> type[Transport]:
    try:
        path = spec_for(channel).transport
    except LookupError:
        raise LookupError(f"no transport for channel {channel!r}") from None
    return import_string(path)


def transport_for(channel: str) -> Transport:
    """A transport instance for ``channel`` (cheap: provider clients are cached by the channel)."""
    return _transport_class(channel)()


def public_url(name: str, *args: Any) -> str:
    """An absolute URL providers call back (PUBLIC_BASE_URL + the named route)."""
    return settings.PUBLIC_BASE_URL + reverse(name, args=args)


def refusal(text: str, category: str, *, code: str = "", ours: bool = False) -> TransportError:
    """A refusal we classify ourselves (empty template, provider suppression list, bad request).

    ``ours`` marks our own configuration problems: not retried (resending unchanged fails the
    same way) and not held against the recipient's address.
    """
    kind = Category(category)
    classification = Classification(
        category=kind, hard=kind.hard, reason=text, ours=ours, retryable=False if ours else None
    )
    return TransportError.refused(text, classification, code=code)
