"""The e-mail channel's start-up hook (``ChannelSpec.ready``, run from messaging's AppConfig.ready)."""

from __future__ import annotations


def ready() -> None:
    """anymail's views authenticate and normalise ESP tracking events and inbound messages (bounce
    DSNs), then send signals, which this connects; its system checks make a missing webhook secret
    or a broken ESP set-up stop start-up (the webhooks fail closed)."""
    from anymail.signals import inbound, tracking

    from messaging.channels.email import checks
    from messaging.channels.email.inbound import on_inbound
    from messaging.channels.email.tracking import on_tracking

    tracking.connect(on_tracking, dispatch_uid="messaging.email.tracking")
    inbound.connect(on_inbound, dispatch_uid="messaging.email.inbound")
    checks.register()
