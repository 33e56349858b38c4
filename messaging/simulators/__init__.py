"""Local peers for the providers: Twilio (SMS, voice), a Sinch-shaped fax API and SMTP.

``python -m messaging.simulators`` runs all three (see ``__main__``); tests start them in-process
with :func:`start_twilio_sim`, :func:`start_fax_sim` and :func:`start_smtp_sim`, each returning a
:class:`~messaging.simulators.base.SimHandle`. Imports are lazy so that importing one simulator
does not load the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SimHandle": "messaging.simulators.base",
    "start_twilio_sim": "messaging.simulators.twilio_sim",
    "start_fax_sim": "messaging.simulators.fax_sim",
    "start_smtp_sim": "messaging.simulators.smtp_sim",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'messaging.simulators' has no attribute {name!r}")
    return getattr(import_module(module), name)
