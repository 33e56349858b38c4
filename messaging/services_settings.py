"""Writing numbered settings: validate, store, and record who changed what."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from messaging.models import SystemSetting, SystemSettingChange
from messaging.quiet_hours import window_change_error, window_settings
from messaging.system_settings import REGISTRY, SettingValue, clear_cache, format_value, parse_value


def setting_check(*, number: int, value: str, lock: bool = False) -> SettingValue:
    """The parsed ``value`` for setting ``number``; ValidationError (staff-readable) if it may not be saved.

    Besides its own type, a value must agree with related settings: the start of the messaging
    day (274) must stay earlier than every stop time (270, 272, 273). ``lock`` (inside a
    transaction) holds those settings' rows while deciding.
    """
    definition = REGISTRY[number]
    parsed = parse_value(definition, value)
    if number in window_settings() and isinstance(parsed, dt.time):
        error = window_change_error(number, parsed, _stored_times(window_settings(), lock=lock))
        if error:
            raise ValidationError(error)
    return parsed


def _stored_times(numbers: frozenset[int], *, lock: bool) -> dict[int, dt.time]:
    """The stored values of time-of-day settings, read now (not the cached ones)."""
    rows = SystemSetting.objects.filter(number__in=numbers).order_by("number")
    if lock:
        rows = rows.select_for_update()
    stored = dict(rows.values_list("number", "value"))
    result: dict[int, dt.time] = {}
    for number in numbers:
        definition = REGISTRY[number]
        try:
            value = parse_value(definition, stored.get(number, definition.default))
        except ValidationError:
            value = parse_value(definition, definition.default)
        if isinstance(value, dt.time):
            result[number] = value
    return result


@transaction.atomic
def setting_update(*, number: int, value: str, user: AbstractBaseUser | None = None) -> SystemSetting:
    """Validate ``value`` for setting ``number`` (ValidationError if invalid) and store it with an audit row."""
    definition = REGISTRY[number]
    canonical = format_value(definition, setting_check(number=number, value=value, lock=True))
    row, _ = SystemSetting.objects.select_for_update().get_or_create(
        number=number, defaults={"value": definition.default}
    )
    actor = user if user is not None and user.is_authenticated else None
    if row.value != canonical:
        SystemSettingChange.objects.create(number=number, old_value=row.value, new_value=canonical, changed_by=actor)
        row.value = canonical
        row.updated_by = actor
        row.save()
    clear_cache()
    transaction.on_commit(clear_cache)
    return row
