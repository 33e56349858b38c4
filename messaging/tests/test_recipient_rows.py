"""Refresh's plans per shape of row give every row what the address rules give it, on generated rows.

The reference is the rule applied row by row, as the selector did before plans: the person checks
(inactive, no profile, no consent, Part 2), then for each channel the preference check and
``contact_address_for`` on the row's own contact values.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clients.models import ContactMethod
from messaging.addresses import contact_address_for, preference_allows
from messaging.channels.registry import all_specs, contact_field_names, kinds
from messaging.exclusions import Why
from messaging.recipient_rows import PERSON_FIELDS, Plans

# Values a stored column can hold, the tricky ones included: NULL, empty, blank, unnormalised.
ADDRESS = st.sampled_from([None, "", " ", "+16175550100", "+16175550101 ", "Pat@Example.ORG", "pat@example.org", "x"])
PREFERRED = st.sampled_from([*ContactMethod.values, ""])
CHANNELS = st.lists(st.sampled_from(kinds()), unique=True, max_size=len(kinds()))
PROFILE = st.none() | st.tuples(st.booleans(), PREFERRED, st.booleans(), st.booleans())


# Every address field of a contact, "" unless the row read it.
EMPTY = dict.fromkeys([*contact_field_names(), *(spec.address_field for spec in all_specs() if spec.address_field)], "")


def _contact(values: dict[str, str | None]) -> SimpleNamespace:
    return SimpleNamespace(**(EMPTY | {f: v or "" for f, v in values.items()}))


def _by_the_rule(
    row: dict[str, Any], channels: list[str], only_preferences: bool, part2_blocked: bool
) -> tuple[str, str, list[tuple[str, str, str, str]]]:
    """(preferred label, person reason, [(channel, address, source, reason)]) the rules give the row."""
    profile = row["profile"]
    label = dict(ContactMethod.choices).get(profile.preferred_contact_method, "") if profile else ""
    if not row["active"]:
        return label, Why.INACTIVE, []
    if profile is None:
        return label, Why.NO_PROFILE, []
    if not profile.consent_given:
        return label, Why.NO_CONSENT, []
    if part2_blocked and row["part2"]:
        return label, Why.PART2, []
    chart = _contact(row["chart"] | row["own"])
    alternate = _contact(row["alternate"]) if row["alternate"] is not None else None
    out = []
    for channel in channels:
        if only_preferences and not preference_allows(profile, channel):
            out.append((channel, "", "", Why.preference(label)))
            continue
        choice = contact_address_for(chart, channel, profile=profile, alternate=alternate)  # type: ignore[arg-type]
        out.append((channel, choice.address, choice.source, "" if choice.ok else choice.reason))
    return label, "", out


@st.composite
def rows(draw: st.DrawFn, plans: Plans) -> dict[str, Any]:
    fields = plans.contact_fields
    profile = draw(PROFILE)
    return {
        "active": draw(st.booleans()),
        "part2": draw(st.booleans()),
        "profile": SimpleNamespace(
            consent_given=profile[0],
            preferred_contact_method=profile[1],
            use_client_detail_info=profile[2],
            sms_opted_out=profile[3],
        )
        if profile
        else None,
        "chart": {f: draw(ADDRESS) for f in fields},
        "alternate": draw(st.none() | st.fixed_dictionaries({f: ADDRESS for f in fields})),
        "own": {f: draw(ADDRESS) for f in plans.own_fields},
    }


def _as_fetched(row: dict[str, Any], plans: Plans, offset: int) -> tuple[Any, ...]:
    """The row as the selector's query returns it: ``offset`` columns, PERSON_FIELDS, then the addresses."""
    profile = row["profile"]
    person = dict.fromkeys(PERSON_FIELDS)
    person |= {"id": 7, "first_name": "Pat", "last_name": "Lee", "is_active": row["active"]}
    person |= {"part2_diagnosis": row["part2"], "preferred_language": "", "messaging_contact__id": None}
    if profile is not None:
        person |= {
            "messaging__consent_given": profile.consent_given,
            "messaging__preferred_contact_method": profile.preferred_contact_method,
            "messaging__use_client_detail_info": profile.use_client_detail_info,
            "messaging__sms_opted_out": profile.sms_opted_out,
        }
    alternate = row["alternate"]
    if alternate is not None:
        person["messaging_contact__id"] = 3
    # LEFT JOIN: no contact row reads as NULLs
    alternate_values = [alternate[f] if alternate is not None else None for f in plans.contact_fields]
    return (
        *("x" * offset),
        *person.values(),
        *(row["chart"][f] for f in plans.contact_fields),
        *alternate_values,
        *(row["own"][f] for f in plans.own_fields),
    )


@settings(max_examples=300, deadline=None)
@given(
    channels=CHANNELS,
    only_preferences=st.booleans(),
    part2_blocked=st.booleans(),
    offset=st.sampled_from([0, 3]),
    data=st.data(),
)
def test_plan_of_a_rows_shape_gives_what_the_rules_give_the_row(
    channels, only_preferences, part2_blocked, offset, data
):
    plans = Plans("", channels, offset=offset, only_preferences=only_preferences, part2_blocked=part2_blocked)
    # Several rows through the same plans: a plan made for one row is reused for another of its shape.
    for row in data.draw(st.lists(rows(plans), min_size=1, max_size=8)):
        fetched = _as_fetched(row, plans, offset)
        plan = plans[plans.shape(fetched)]
        steps = [(ch, fetched[col] if col >= 0 else "", source, why) for ch, col, source, why in plan.steps]
        assert (plan.preferred, plan.reason, steps) == _by_the_rule(row, channels, only_preferences, part2_blocked)


def test_rows_of_one_shape_share_a_plan_and_keep_their_own_addresses():
    plans = Plans("", ["sms", "email"])
    person = dict.fromkeys(PERSON_FIELDS)
    person |= {"is_active": True, "messaging__consent_given": True, "messaging__preferred_contact_method": "text"}
    person |= {"messaging__use_client_detail_info": True, "messaging__sms_opted_out": False}
    first = (*person.values(), "+16175550100", "a@example.org", None, None)
    second = (*person.values(), "+16175550199", "b@example.org", None, None)
    assert plans.shape(first) == plans.shape(second)
    plan = plans[plans.shape(first)]
    assert len(plans) == 1
    assert [second[col] for _, col, _, _ in plan.steps] == ["+16175550199", "b@example.org"]
