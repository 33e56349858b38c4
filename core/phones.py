"""One way to show a phone number on every screen (issue 15): the clinic country's numbers in its
national format ("(303) 555-0199"), other countries' in the international one ("+44 20 7946 0958").

Display only: what is stored and what goes to a provider stays E.164.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings


def display_phone(value: object) -> str:
    """``value`` (an E.164 number, a ``PhoneNumber`` or anything else) as staff read it; text that is not
    a phone number comes back as it is."""
    text = str(value or "")
    if not text.startswith("+") or "@" in text:
        return text
    region = settings.PHONENUMBER_DEFAULT_REGION
    if region == "US" and len(text) == 12 and text.startswith("+1") and text[1:].isdigit():
        return f"({text[2:5]}) {text[5:8]}-{text[8:]}"  # North America, the common case of long lists: no parsing
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    national = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)
