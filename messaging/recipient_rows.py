"""Refresh's client rows: the columns read, and the address rules run once per distinct shape of row.

``recipients_for`` reads clients as plain tuples (never model instances: parsing phone numbers was
most of a 20,000-row Refresh). Deciding each row's addresses by running ``contact_address_for`` on it
was then half of what remained. But the rules (``messaging.addresses``) read of a contact only whether
each field is filled, and of the messaging profile its four flags; they return a filled field's value
unchanged, or a reason. So a row's outcome depends only on its *shape*: the client's flags, the
profile's, whether there is an alternate contact, and which columns are filled. :class:`Plans` runs
the rules once per shape (the benchmark's 20,000 rows have 8) on stand-in contacts whose filled
fields hold markers naming their column, and keeps for each channel the column whose value is the
address, or the reason there is none. A row then costs one dictionary look-up. Should a rule ever
return something other than a field's value, finding its column fails (``KeyError``) rather than
address a message wrongly.

``messaging/tests/test_recipient_rows.py`` checks the plans against the rules themselves on generated rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db.models import CharField, ExpressionWrapper, F

from clients.models import ContactMethod
from messaging.addresses import contact_address_for, preference_allows
from messaging.channels.registry import all_specs, contact_field_names, spec_for
from messaging.exclusions import Why

# The client's fields every row reads, in this order: ``Plans.shape`` takes is_active to
# messaging__sms_opted_out as one slice, then messaging_contact__id; the selector finds the others
# with ``Plans.columns``.
PERSON_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "is_active",
    "part2_diagnosis",
    "messaging__consent_given",
    "messaging__preferred_contact_method",
    "messaging__use_client_detail_info",
    "messaging__sms_opted_out",
    "messaging_contact__id",
    "preferred_language",
    "date_of_birth",
)
N_PERSON = len(PERSON_FIELDS)

# Every field a channel reads an address from: the chart's / alternate's contact fields, then the
# client's own (the portal login), each with the ORM path a bulk read annotates.
_CONTACT_FIELDS = contact_field_names()
_OWN_FIELDS = {spec.address_field: spec.address_path for spec in all_specs() if spec.address_field}
_NO_CONTACT = dict.fromkeys([*_CONTACT_FIELDS, *_OWN_FIELDS], "")
_PREFERRED_LABELS = dict(ContactMethod.choices)


@dataclass(frozen=True, slots=True)
class _Profile:
    """The messaging-profile fields the address rules read (``messaging.addresses``)."""

    consent_given: bool
    preferred_contact_method: str
    use_client_detail_info: bool
    sms_opted_out: bool


class _StandIn(SimpleNamespace):
    """A chart or alternate contact as the rules see it: each field "" or, when the row's column is
    filled, a marker naming that column."""


def raw_text(path: str) -> ExpressionWrapper:
    """A column read as plain text: skips the phone-number field's parsing of every value."""
    return ExpressionWrapper(F(path), output_field=CharField())


# (channel, the row's column holding the address or -1 for none, source, reason there is none)
Step = tuple[str, int, str, str]


@dataclass(frozen=True, slots=True)
class Plan:
    """What every row of one shape gets."""

    preferred: str  # the Preferred Contact Method's label ("" without a messaging profile)
    reason: str  # the client's own reason to leave the whole row out ("" if none)
    steps: tuple[Step, ...]  # one per chosen channel, in their order


class Plans(dict[tuple[Any, ...], Plan]):
    """The columns a client row is read with (only the contact fields the chosen channels need, as
    raw text), and the :class:`Plan` of each shape of row, made when first met.

    A row is ``offset`` columns of the caller's, then ``PERSON_FIELDS``, then the address columns:
    the chart's contact fields, the alternate's, then the client's own. ``plans[plans.shape(row)]`` is
    the row's plan; a step's column indexes the row.
    """

    def __init__(
        self,
        prefix: str,
        channels: Sequence[str],
        *,
        offset: int = 0,
        only_preferences: bool = False,
        part2_blocked: bool = False,
    ) -> None:
        super().__init__()
        self.offset = offset
        self._flags = offset + PERSON_FIELDS.index("is_active")
        self._alternate = offset + PERSON_FIELDS.index("messaging_contact__id")
        self._addresses = offset + N_PERSON
        self.channels = tuple(channels)
        self.only_preferences = only_preferences
        self.part2_blocked = part2_blocked
        needed = set().union(*(spec_for(c).contact_fields for c in channels)) if channels else set()
        self.contact_fields = [f for f in _CONTACT_FIELDS if f in needed]
        self.own_fields = [spec_for(c).address_field for c in channels if spec_for(c).address_field]
        self.fields = [f"{prefix}{f}" for f in PERSON_FIELDS]
        self.raw = {f"c_{f}": raw_text(f"{prefix}{f}") for f in self.contact_fields}
        self.raw |= {f"a_{f}": raw_text(f"{prefix}messaging_contact__{f}") for f in self.contact_fields}
        self.raw |= {f"o_{f}": raw_text(f"{prefix}{_OWN_FIELDS[f]}") for f in self.own_fields}

    @property
    def names(self) -> list[str]:
        """The ``values_list`` names of a row's columns, in order."""
        return [*self.fields, *self.raw]

    def columns(self, *fields: str) -> tuple[int, ...]:
        """Where each of ``PERSON_FIELDS`` named is in a row."""
        return tuple(self.offset + PERSON_FIELDS.index(f) for f in fields)

    def shape(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """Everything about a row its plan depends on: the client's and the profile's flags (active,
        Part 2, consent, preferred method, Use Client Detail Info., STOP), whether there is no
        alternate contact, and which address columns are filled."""
        return (*row[self._flags : self._alternate], row[self._alternate] is None, *map(bool, row[self._addresses :]))

    def __missing__(self, shape: tuple[Any, ...]) -> Plan:
        plan = self[shape] = self._plan(shape)
        return plan

    def _plan(self, shape: tuple[Any, ...]) -> Plan:
        active, part2, consent, preferred, use_detail, stopped, no_alternate, *filled = shape
        profile = None
        if consent is not None:  # LEFT JOIN: no profile row
            profile = _Profile(consent, preferred, use_detail, stopped)
        label = _PREFERRED_LABELS.get(preferred, "") if profile is not None else ""
        if not active:
            return Plan(label, Why.INACTIVE, ())
        if profile is None:
            return Plan(label, Why.NO_PROFILE, ())
        if not profile.consent_given:
            return Plan(label, Why.NO_CONSENT, ())
        if self.part2_blocked and part2:
            return Plan(label, Why.PART2, ())
        markers = [f"\x00{i}" if is_filled else "" for i, is_filled in enumerate(filled, self._addresses)]
        chart, alternate = self._stand_ins(markers, no_alternate)
        column = {marker: i for i, marker in enumerate(markers, self._addresses) if marker}
        steps: list[Step] = []
        for channel in self.channels:
            if self.only_preferences and not preference_allows(profile, channel):  # type: ignore[arg-type]
                steps.append((channel, -1, "", Why.preference(label)))
                continue
            choice = contact_address_for(
                chart,  # type: ignore[arg-type]  # the rules read only these fields
                channel,
                profile=profile,  # type: ignore[arg-type]
                alternate=alternate,  # type: ignore[arg-type]
            )
            if choice.ok:
                steps.append((channel, column[choice.address], choice.source, ""))
            else:
                steps.append((channel, -1, choice.source, choice.reason))
        return Plan(label, "", tuple(steps))

    def _stand_ins(self, markers: list[str], no_alternate: bool) -> tuple[_StandIn, _StandIn | None]:
        n = len(self.contact_fields)
        chart = dict(zip(self.contact_fields, markers[:n], strict=True))
        chart |= dict(zip(self.own_fields, markers[2 * n :], strict=True))
        if no_alternate:
            return _StandIn(**(_NO_CONTACT | chart)), None
        alternate = dict(zip(self.contact_fields, markers[n : 2 * n], strict=True))
        return _StandIn(**(_NO_CONTACT | chart)), _StandIn(**(_NO_CONTACT | alternate))
