from __future__ import annotations

from django.apps import AppConfig


class BouncesConfig(AppConfig):
    name = "bounces"
    verbose_name = "Bounces and Do-Not-Send list"
