"""Why a recipient gets no message: the one vocabulary of exclusion reasons.

Refresh shows these beside the recipient list, the dispatcher and the automated planner store them
as a delivery's ``status_reason``, and History shows them; the words are what staff read, so they
are written once, here.
"""

from __future__ import annotations

from messaging.channels.registry import label, spec_for


class Why:
    # The client and their consent
    NO_CONSENT = "No messaging consent"
    NO_PROFILE = "No messaging consent (profile not set up)"
    NO_ALTERNATE = "Use Client Detail Info. is No but no Messaging Contact is entered"
    SMS_STOPPED = "Replied STOP to texts"
    INACTIVE = "Client is inactive"
    INACTIVE_USER = "User is inactive"
    STAFF_NO_ADDRESS = "No {what} in the user profile"
    UNTICKED = "Unticked by staff"
    PART2 = "42 CFR Part 2 diagnosis: HIE messages are prohibited (setting 490)"
    # The broadcast
    BROADCAST_CANCELLED = "Broadcast cancelled"
    # The appointment
    CANCELLED = "Appointment cancelled"
    COMPLETED = "Appointment already took place"
    NO_SHOW = "Client did not attend (no-show)"
    RESCHEDULED = "Appointment rescheduled"
    DELETED = "Appointment deleted"
    STARTED = "Appointment already started"
    NOT_COMPLETED = "Appointment is not marked completed"
    NO_LINK = "Telehealth appointment has no meeting link"
    TOO_LATE = "Appointment starts before the next sending window (stop time)"
    # Automated messaging
    NO_CLINICIAN_COPY = "Telehealth messages to clinicians are off (setting 751)"
    RENEWAL_PASSED = "Renewal date has passed"
    CHANGED = "No longer planned (send times or contact methods changed)"
    INACTIVE_TYPE = "Message type is inactive"

    @staticmethod
    def no_address(channel: str) -> str:
        try:
            spec = spec_for(channel)
        except LookupError:
            return f"No valid address for {label(channel)}"
        return spec.no_address_reason or f"No valid {spec.address_noun} for {spec.label}"

    @staticmethod
    def staff_no_address(channel: str) -> str:
        try:
            noun = spec_for(channel).address_noun
        except LookupError:
            noun = "address"
        return Why.STAFF_NO_ADDRESS.format(what=noun)

    @staticmethod
    def preference(preferred_label: str) -> str:
        """Refresh with Only Send Based on Preferences on."""
        return f"Prefers {preferred_label}; Only Send Based on Preferences is on"

    @staticmethod
    def now_prefers(preferred_label: str) -> str:
        """A planned automated message whose client changed their preferred contact method since."""
        return f"Client now prefers {preferred_label}"

    @staticmethod
    def not_enrolled(number: int) -> str:
        return f"Automated messaging not enrolled (setting {number})"

    @staticmethod
    def dns(reason_label: str, is_domain: bool) -> str:
        what = "domain is" if is_domain else "address is"
        return f"The {what} on the Do-Not-Send list ({reason_label})"


# Cancellation reasons undone when the appointment comes back (un-cancelled, moved back).
REVIVABLE = frozenset({Why.CANCELLED, Why.NO_SHOW, Why.RESCHEDULED})
