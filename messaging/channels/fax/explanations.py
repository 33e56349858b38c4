"""What a failed fax means to staff, and what they can do: the fax channel's words for each failure
category (read by :mod:`messaging.explanations`; the categories come from ``errors.py``)."""

from __future__ import annotations

from bounces.taxonomy import Category

_C = Category

EXPLANATIONS: dict[Category, tuple[str, str]] = {
    _C.BAD_MAILBOX: (
        "This number does not reach a fax machine: it is not in service, or a person or voicemail answered "
        "instead of a fax tone.",
        "Check the fax number with the client and update it on the chart, or use another contact method.",
    ),
    _C.NO_ANSWER_FROM_HOST: (
        "The fax line was busy or did not answer.",
        "It is dialled again automatically when redials are on; otherwise send it again later.",
    ),
    _C.BAD_CONNECTION: (
        "The fax started, but the line dropped or was too noisy to finish.",
        "It is tried again automatically; if it keeps failing, send it again later.",
    ),
    _C.ROUTING_ERRORS: (
        "The phone network was too busy to connect to the fax machine.",
        "It is tried again automatically; if it keeps failing, send it again later.",
    ),
    _C.BAD_CONFIGURATION: (
        "The fax could not be sent because of the clinic's side (the document could not be prepared, or the fax "
        "service's account or settings are wrong), not because of the recipient's fax machine.",
        "Tell your administrator: sending it again will fail the same way until it is fixed.",
    ),
    _C.DNS: (
        "This fax number is on the Do-Not-Send list: nothing is faxed to it.",
        "Use another contact method; remove the number from the Do-Not-Send list only if the client asks.",
    ),
    _C.DOMAIN_DNS: (
        "This fax number is blocked by the Do-Not-Send list: nothing is faxed to it.",
        "Use another contact method.",
    ),
    _C.OTHER: (
        "The fax failed and the fax service gave no clear reason.",
        "Send it again later; if it keeps failing, check the fax number with the client.",
    ),
}
