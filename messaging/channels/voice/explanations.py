"""What a failed voice call means to staff, and what they can do: the voice channel's words for each
failure category (read by :mod:`messaging.explanations`). A refused call is classified with Twilio's
message error table, so the categories that table gives have words here too."""

from __future__ import annotations

from bounces.taxonomy import Category

_C = Category

EXPLANATIONS: dict[Category, tuple[str, str]] = {
    _C.BAD_MAILBOX: (
        "The call could not reach a person at this number: it is not valid, no longer in service, "
        "or a fax machine answered.",
        "Check the phone number with the client and update it on the chart, or use another contact method.",
    ),
    _C.NO_ANSWER_FROM_HOST: (
        "The line was busy, or nobody answered and no voicemail picked up.",
        "It is called again automatically when redials are on; otherwise call again later or use another "
        "contact method.",
    ),
    _C.DNS: (
        "This number is on the Do-Not-Send list: the clinic does not call it.",
        "Use another contact method; remove the number from the Do-Not-Send list only if the client asks.",
    ),
    _C.DOMAIN_DNS: (
        "This number is blocked by the Do-Not-Send list: the clinic does not call it.",
        "Use another contact method.",
    ),
    _C.POLICY_RELATED: (
        "The phone network or the client's phone blocked the call (call blocking of unknown numbers, for example).",
        "Ask the client to allow calls from the clinic's number, or use another contact method.",
    ),
    _C.CONTENT_RELATED: (
        "The phone network refused to place the call.",
        "Use another contact method; tell your administrator if it happens again.",
    ),
    _C.SPAM_RELATED: (
        "The phone network took the clinic's number for a spam caller and blocked the call.",
        "Use another contact method, and tell your administrator.",
    ),
    _C.ROUTING_ERRORS: (
        "The phone network was too busy to connect the call.",
        "It is tried again automatically; if it keeps failing, call again later.",
    ),
    _C.BAD_CONFIGURATION: (
        "The call could not be placed because of the clinic's phone setup (the caller ID, the account or the "
        "message script), not because of the client's number.",
        "Tell your administrator: calling again will fail the same way until the setup is fixed.",
    ),
    _C.BAD_CONNECTION: (
        "The call dropped before the message finished playing.",
        "It is tried again automatically; if it keeps failing, call the client yourself.",
    ),
    _C.MESSAGE_EXPIRED: (
        "The call could not be connected in time and was given up.",
        "Call again later, or use another contact method.",
    ),
    _C.OTHER: (
        "The call did not go through (or was cancelled) and the phone network gave no reason.",
        "Call again later; if it keeps failing, check the number with the client.",
    ),
}
