"""What a failed text message means to staff, and what they can do: the SMS channel's words for each
failure category (read by :mod:`messaging.explanations`; the codes are Twilio's, see ``twilio/errors.py``)."""

from __future__ import annotations

from bounces.taxonomy import Category

_C = Category

EXPLANATIONS: dict[Category, tuple[str, str]] = {
    _C.BAD_MAILBOX: (
        "This number can't receive texts: it is not a valid mobile number, is a landline, or is no longer in service.",
        "Check the cell phone number with the client and update it on the chart, or use Voice.",
    ),
    _C.DNS: (
        "The client replied STOP to the clinic's texts, or this number is on the Do-Not-Send list: no text goes to it.",
        "Use another contact method. Texts start again if the client replies START.",
    ),
    _C.DOMAIN_DNS: (
        "This number is blocked by the Do-Not-Send list: no text goes to it.",
        "Use another contact method.",
    ),
    _C.POLICY_RELATED: (
        "The client's phone or mobile carrier blocked this text (the client may have blocked the clinic's number).",
        "Ask the client to unblock the clinic's number, or use another contact method.",
    ),
    _C.CONTENT_RELATED: (
        "The mobile carrier refused this text because of what it says (its filter took it for spam) or its length.",
        "Shorten or reword the text (links are a common cause), or use another contact method.",
    ),
    _C.SPAM_RELATED: (
        "The mobile carrier's spam filter blocked this text.",
        "Reword the text, or use another contact method; tell your administrator if many texts are blocked.",
    ),
    _C.ROUTING_ERRORS: (
        "The mobile network could not pass the text on to the phone (the network was busy).",
        "It is tried again automatically; if it keeps failing, call the client.",
    ),
    _C.BAD_CONFIGURATION: (
        "The text could not be sent because of the clinic's text-message setup (the sending number, the account "
        "or the template), not because of the client's number.",
        "Tell your administrator: sending it again will fail the same way until the setup is fixed.",
    ),
    _C.BAD_CONNECTION: (
        "Part of the text was lost between mobile networks.",
        "It is tried again automatically; if it keeps failing, call the client.",
    ),
    _C.MESSAGE_EXPIRED: (
        "The text waited too long for the phone (switched off or out of coverage) and the carrier gave up.",
        "Send it again later, or call the client.",
    ),
    _C.NO_ANSWER_FROM_HOST: (
        "The client's phone could not be reached: it is switched off, out of coverage or roaming.",
        "Send it again later, or call the client.",
    ),
    _C.OTHER: (
        "The text was not delivered and the mobile network gave no reason.",
        "Send it again later; if it keeps failing, check the number with the client or use another contact method.",
    ),
}

#: Twilio error codes whose words say more than their category's, keyed by (the category the code gives, code).
BY_CODE: dict[tuple[Category, str], tuple[str, str]] = {
    (_C.BAD_MAILBOX, "30006"): (
        "This number is a landline (or its carrier can't take texts) and can't receive texts.",
        "Use Voice, or update the cell phone number on the chart.",
    ),
    (_C.BAD_MAILBOX, "21614"): (
        "This number is not a mobile number and can't receive texts.",
        "Use Voice, or update the cell phone number on the chart.",
    ),
    (_C.DNS, "21610"): (
        "The client replied STOP to the clinic's texts: no text goes to this number.",
        "Use another contact method. Texts start again if the client replies START.",
    ),
    (_C.BAD_MAILBOX, "21211"): (
        "This is not a valid phone number.",
        "Check the number with the client and correct it on the chart.",
    ),
    (_C.BAD_MAILBOX, "30005"): (
        "This number is unknown to the mobile network or no longer in service.",
        "Check the number with the client and update it on the chart, or use another contact method.",
    ),
    (_C.CONTENT_RELATED, "30007"): (
        "The mobile carrier's filter took this text for spam and blocked it.",
        "Reword the text (links are a common cause), or use another contact method.",
    ),
}
