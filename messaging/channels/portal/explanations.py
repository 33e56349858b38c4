"""What a portal message that could not be published means to staff, and what they can do: the
portal channel's words for each failure category (read by :mod:`messaging.explanations`)."""

from __future__ import annotations

from bounces.taxonomy import Category

_C = Category

EXPLANATIONS: dict[Category, tuple[str, str]] = {
    _C.BAD_MAILBOX: (
        "The client has no active portal account, so the message could not be put in the portal.",
        "Invite the client to the portal (or reactivate the account), or use another contact method.",
    ),
    _C.BAD_CONFIGURATION: (
        "The portal message could not be published because of the clinic's side (the portal is switched off "
        "in setting 620, or the template is empty).",
        "Tell your administrator: sending it again will fail the same way until it is fixed.",
    ),
    _C.DNS: (
        "The client is on the Do-Not-Send list: nothing is published for them.",
        "Use another contact method; take the client off the Do-Not-Send list only if they ask.",
    ),
    _C.OTHER: (
        "The portal message could not be published and no reason was recorded.",
        "Send it again; if it keeps failing, tell your administrator.",
    ),
}
