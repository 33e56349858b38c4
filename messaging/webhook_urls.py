"""Provider webhooks (mounted at ``/webhooks/``): each channel's ``urls`` module, from the registry.

Status callbacks carry the delivery's unguessable token in their URL.
"""

from __future__ import annotations

from importlib import import_module

from messaging.channels.registry import all_specs

app_name = "webhooks"
urlpatterns = [
    pattern for spec in all_specs() if spec.webhook_urls for pattern in import_module(spec.webhook_urls).urlpatterns
]
