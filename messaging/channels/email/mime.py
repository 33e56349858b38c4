"""The MIME policy our e-mails are built with: the standard library's, with header classes made once.

Python's :class:`email.headerregistry.HeaderRegistry` builds a new class with ``type()`` every time
a header is set or read (``__getitem__``; unchanged up to Python 3.13). A product e-mail sets and
reads ~33 headers (its own, and each MIME part's), so building one spent ~1 ms of its ~4 ms making
classes that are identical each time, and left them for the cyclic garbage collector.
:class:`CachedHeaderRegistry` makes each header's class once per name. The bytes on the wire are
the same (``tests/test_mime.py`` compares them).

:class:`PolicyEmail` is Django's :class:`~django.core.mail.EmailMultiAlternatives` built with the
cached twin of whichever standard policy its backend asks for (Django's SMTP backend asks for
``email.policy.SMTP``); any other policy is used as given.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import HeaderRegistry
from email.policy import Policy
from typing import Any

from django.core.mail import EmailMultiAlternatives


class CachedHeaderRegistry(HeaderRegistry):
    """A header factory that makes the class for each header name once, not on every use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classes: dict[str, type] = {}

    def map_to_type(self, name: str, cls: type) -> None:
        super().map_to_type(name, cls)
        self._classes.pop(name.lower(), None)

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


def _cached(policy: email.policy.EmailPolicy) -> email.policy.EmailPolicy:
    return policy.clone(header_factory=CachedHeaderRegistry())


# The standard policies Django and anymail ask for, each with its cached twin.
CACHED_POLICIES: dict[int, Policy] = {
    id(policy): _cached(policy)
    for policy in (email.policy.default, email.policy.SMTP, email.policy.SMTPUTF8, email.policy.HTTP)
}


def cached_policy(policy: Policy) -> Policy:
    """The cached twin of a standard policy; any other policy unchanged."""
    return CACHED_POLICIES.get(id(policy), policy)


class PolicyEmail(EmailMultiAlternatives):
    """Django's e-mail, its MIME message built with :func:`cached_policy`."""

    def message(self, *, policy: Policy = email.policy.default) -> Any:
        return super().message(policy=cached_policy(policy))
