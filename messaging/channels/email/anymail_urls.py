"""``/anymail/``: anymail's ESP webhooks, only the configured ESPs', each failing closed.

Built once from the settings (``EMAIL_BACKEND`` and ``ANYMAIL_WEBHOOK_ESPS``) by
:func:`messaging.channels.email.webhooks.webhook_urlpatterns`; the URL names stay anymail's.
"""

from __future__ import annotations

from messaging.channels.email.webhooks import webhook_urlpatterns

app_name = "anymail"
urlpatterns = webhook_urlpatterns()
