"""Writing numbered settings: validate, store, and record who changed what."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from messaging.models import SystemSetting, SystemSettingChange
from messaging.system_settings import REGISTRY, clear_cache, format_value, parse_value


@transaction.atomic
def setting_update(*, number: int, value: str, user: AbstractBaseUser | None = None) -> SystemSetting:
    """Validate ``value`` for setting ``number`` (ValidationError if invalid) and store it with an audit row."""
    definition = REGISTRY[number]
    canonical = format_value(definition, parse_value(definition, value))
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
