"""What a failed e-mail means to staff, and what they can do: the e-mail channel's words for each
failure category (read by :mod:`messaging.explanations`). What it means is the seed's explanation of
the category ("Possible Message Errors", kept on :class:`bounces.taxonomy.Category`); the next step is ours."""

from __future__ import annotations

from bounces.taxonomy import Category

_C = Category

_NEXT_STEPS: dict[Category, str] = {
    _C.BAD_DOMAIN: "Check the part after @ with the client (for example gmail.com) and correct the e-mail address "
    "on the chart.",
    _C.BAD_MAILBOX: "Check the e-mail address with the client and correct it on the chart, or use another contact "
    "method.",
    _C.DNS: "Use another contact method; remove the address from the Do-Not-Send list only if the client asks for "
    "e-mail again.",
    _C.DOMAIN_DNS: "Ask the client for an address with another e-mail provider, or use another contact method.",
    _C.INACTIVE_MAILBOX: "Ask the client for a current e-mail address and update the chart, or use another contact "
    "method.",
    _C.POLICY_RELATED: "Ask the client to add the clinic's address to their contacts (safe senders), or use another "
    "contact method.",
    _C.CONTENT_RELATED: "Reword the message (links and attachments are common causes), or use another contact method.",
    _C.RELAYING_ISSUES: "It is tried again automatically; tell your administrator if it keeps happening.",
    _C.ROUTING_ERRORS: "It is tried again automatically; if it keeps failing, check the address with the client.",
    _C.SPAM_RELATED: "Ask the client to mark the clinic's e-mail as not spam, or use another contact method; tell "
    "your administrator if many clients are affected.",
    _C.BAD_CONFIGURATION: "Tell your administrator: the clinic's e-mail setup may need fixing.",
    _C.BAD_CONNECTION: "It is tried again automatically; nothing to do unless it keeps failing.",
    _C.MESSAGE_EXPIRED: "Send it again later, or use another contact method.",
    _C.NO_ANSWER_FROM_HOST: "Check the address with the client, send it again later, or use another contact method.",
    _C.QUOTA_ISSUES: "It is tried again automatically; ask the client to make room in their mailbox, or use another "
    "contact method.",
    _C.OTHER: "Send it again later; if it keeps failing, check the address with the client.",
}

EXPLANATIONS: dict[Category, tuple[str, str]] = {c: (c.explanation, _NEXT_STEPS[c]) for c in Category}
