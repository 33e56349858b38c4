"""Reference data every installation needs: setting rows and the standard message types with templates.

Runs after ``migrate``; only creates what is missing, never overwrites an administrator's edits.
"""

from __future__ import annotations

from typing import Any

# At most 160 characters rendered (one segment; the FCC healthcare exemption's limit); no clinician
# name or specialty in a text (HIPAA minimum necessary).
APPT_SMS = (
    "{{ practice_name }}: reminder of your appointment on {{ appointment_date }} at {{ appointment_time }}."
    " {{ confirm_instructions }} Reply STOP to opt out."
)
APPT_EMAIL_TEXT = (
    "Hello {{ first_name }},\n\nThis is a reminder of your appointment on {{ appointment_date }} at "
    "{{ appointment_time }} with {{ clinician_name }} ({{ location }}).\n\n"
    "To confirm or reschedule, call {{ practice_phone }}.\n\n{{ practice_name }}"
)
APPT_VOICE = (
    "Hello, this is {{ practice_name }} with a reminder of an appointment on {{ appointment_date }} at "
    "{{ appointment_time }}. To confirm, press 1. For questions call {{ practice_phone }}."
)
APPT_FAX = (
    "Appointment reminder\n\n{{ first_name }}, you have an appointment on {{ appointment_date }} at "
    "{{ appointment_time }} with {{ clinician_name }}.\nLocation: {{ location }}\n\n"
    "Questions: {{ practice_phone }}\n{{ practice_name }}"
)


def _client_templates(sms: str, subject: str, text: str, voice: str, fax: str) -> dict[str, dict[str, str]]:
    """One template per channel: each channel's spec names the template fields it sends (the portal
    shares the e-mail's subject and text)."""
    from messaging.channels.registry import all_specs

    html = "<p>" + text.replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"
    fields = {
        "sms_body": sms,
        "email_subject": subject,
        "email_text": text,
        "email_html": html,
        "voice_script": voice,
        "fax_body": fax,
    }
    return {spec.kind: {n: fields[n] for n in spec.template_fields if n in fields} for spec in all_specs()}


def _notice_templates(sms: str, subject: str, text: str, voice: str, fax: str) -> dict[str, dict[str, str]]:
    """Templates of a notice that a portal message waits: every channel but the inbox itself."""
    from messaging.channels.registry import all_specs

    inbox = {spec.kind for spec in all_specs() if spec.address_field}  # the portal: its own address
    return {k: v for k, v in _client_templates(sms, subject, text, voice, fax).items() if k not in inbox}


MESSAGE_TYPES: list[dict[str, Any]] = [
    {
        "code": "client-upcoming-appointment",
        "name": "Client Upcoming Appointment",
        "audience": "clients",
        "selection": "appointments",
        "is_manual": False,
        "setting_number": 773,
        "sort_order": 10,
        "templates": _client_templates(
            APPT_SMS, "Appointment reminder from {{ practice_name }}", APPT_EMAIL_TEXT, APPT_VOICE, APPT_FAX
        ),
    },
    {
        "code": "initial-appointment-confirmation",
        "name": "Initial Appointment Confirmation",
        "audience": "clients",
        "selection": "initial",
        "is_manual": False,
        "setting_number": 776,
        "sort_order": 20,
        "templates": _client_templates(
            "{{ practice_name }}: welcome! Your first appointment is {{ appointment_date }} at "
            "{{ appointment_time }}. {{ confirm_instructions }}",
            "Welcome to {{ practice_name }}",
            "Hello {{ first_name }},\n\nWelcome to {{ practice_name }}. Your first appointment is on "
            "{{ appointment_date }} at {{ appointment_time }} with {{ clinician_name }} ({{ location }}).\n\n"
            "Questions: {{ practice_phone }}.",
            "Hello, this is {{ practice_name }}. Your first appointment is on {{ appointment_date }} at "
            "{{ appointment_time }}. To confirm, press 1.",
            "Welcome\n\nYour first appointment: {{ appointment_date }} at {{ appointment_time }}.\n"
            "Location: {{ location }}\nQuestions: {{ practice_phone }}",
        ),
    },
    {
        "code": "post-appointment-message",
        "name": "Post Appointment Message",
        "audience": "clients",
        "selection": "completed",
        "is_manual": False,
        "setting_number": 780,
        "sort_order": 30,
        "templates": _client_templates(
            "{{ practice_name }}: thank you for visiting today. Questions? Call {{ practice_phone }}.",
            "Thank you from {{ practice_name }}",
            "Hello {{ first_name }},\n\nThank you for your visit on {{ appointment_date }}. If you have any "
            "questions, call {{ practice_phone }}.\n\n{{ practice_name }}",
            "Hello, this is {{ practice_name }}. Thank you for your visit. Questions? Call {{ practice_phone }}.",
            "Thank you for your visit on {{ appointment_date }}.\nQuestions: {{ practice_phone }}",
        ),
    },
    {
        "code": "user-renewals",
        "name": "User Renewals",
        "audience": "staff",
        "selection": "renewals",
        "is_manual": False,
        "setting_number": None,
        "sort_order": 40,
        "templates": _client_templates(
            "{{ practice_name }}: your {{ renewal_item }} is due for renewal on {{ renewal_date }}.",
            "Renewal due: {{ renewal_item }}",
            "Hello {{ first_name }},\n\nYour {{ renewal_item }} is due for renewal on {{ renewal_date }}. "
            "Please upload the renewed document.\n\n{{ practice_name }}",
            "This is {{ practice_name }}. Your {{ renewal_item }} is due for renewal on {{ renewal_date }}.",
            "Renewal notice\n\n{{ renewal_item }} due on {{ renewal_date }}.",
        ),
    },
    {
        "code": "jaas-telehealth-1",
        "name": "JaaS Telehealth Message 1",
        "audience": "clients",
        "selection": "telehealth",
        "is_manual": False,
        "setting_number": 759,
        "sort_order": 50,
        "templates": _client_templates(
            "{{ practice_name }}: your video visit is {{ appointment_date }} at {{ appointment_time }}. "
            "Join: {{ telehealth_link }}",
            "Your video visit with {{ practice_name }}",
            "Hello {{ first_name }},\n\nYour video visit is on {{ appointment_date }} at {{ appointment_time }}"
            " with {{ clinician_name }}.\n\nJoin here: {{ telehealth_link }}\n\n{{ practice_name }}",
            "Hello, this is {{ practice_name }}. Your video visit is on {{ appointment_date }} at "
            "{{ appointment_time }}. The link was sent by text or e-mail.",
            "Video visit on {{ appointment_date }} at {{ appointment_time }}.\nLink: {{ telehealth_link }}",
        ),
    },
    {
        "code": "jaas-telehealth-2",
        "name": "JaaS Telehealth Message 2",
        "audience": "clients",
        "selection": "telehealth",
        "is_manual": False,
        "setting_number": 760,
        "sort_order": 60,
        "templates": _client_templates(
            "{{ practice_name }}: your video visit starts at {{ appointment_time }}. Join: {{ telehealth_link }}",
            "Your video visit starts soon",
            "Hello {{ first_name }},\n\nYour video visit starts at {{ appointment_time }}.\n\n"
            "Join here: {{ telehealth_link }}",
            "This is {{ practice_name }}. Your video visit starts at {{ appointment_time }}.",
            "Video visit today at {{ appointment_time }}.\nLink: {{ telehealth_link }}",
        ),
    },
    {
        "code": "billing-statement",
        "name": "Billing Statement",
        "audience": "clients",
        "selection": "all_clients",
        "is_manual": False,
        "setting_number": 182,
        "sort_order": 70,
        "templates": _client_templates(
            "{{ practice_name }}: {{ statement_message }}",
            "Your statement from {{ practice_name }}",
            "Hello {{ first_name }},\n\n{{ statement_message }}\n\n{{ practice_name }} {{ practice_phone }}",
            "This is {{ practice_name }}. {{ statement_message }}",
            "Statement notice\n\n{{ statement_message }}\n{{ practice_phone }}",
        ),
    },
    {
        "code": "portal-password-change",
        "name": "Portal Password Change",
        "audience": "clients",
        "selection": "all_clients",
        "is_manual": False,
        "setting_number": 371,
        "sort_order": 80,
        "templates": _client_templates(
            "{{ practice_name }}: {{ portal_message }}",
            "Your portal password was changed",
            "Hello {{ first_name }},\n\n{{ portal_message }}\n\n{{ practice_name }} {{ practice_phone }}",
            "This is {{ practice_name }}. {{ portal_message }}",
            "{{ portal_message }}",
        ),
    },
    {
        "code": "portal-message-notice",
        "name": "Portal Message Notice",
        "audience": "clients",
        "selection": "all_clients",
        "is_manual": False,
        "setting_number": 620,
        "sort_order": 82,
        # No PHI: no name, no appointment, no content; only that a message waits and where.
        "templates": _notice_templates(
            "{{ practice_name }}: you have a new secure message. Read it in the client portal: {{ portal_url }}",
            "New secure message from {{ practice_name }}",
            "Hello,\n\nYou have a new secure message from {{ practice_name }}. Log in to the client portal to "
            "read it:\n{{ portal_url }}\n\n{{ practice_name }} {{ practice_phone }}",
            "Hello, this is {{ practice_name }}. You have a new secure message in your client portal.",
            "You have a new secure message in the client portal.\n{{ portal_url }}\n{{ practice_name }}",
        ),
    },
    {
        "code": "hie-release-notice",
        "name": "HIE Release Notice",
        "audience": "clients",
        "selection": "all_clients",
        "is_manual": True,
        "is_hie": True,
        "setting_number": 490,
        "sort_order": 85,
        "templates": _client_templates(
            "{{ practice_name }}: {{ description }}",
            "A notice from {{ practice_name }}",
            "Hello {{ first_name }},\n\n{{ description }}\n\n{{ practice_name }}",
            "This is {{ practice_name }}. {{ description }}",
            "{{ description }}",
        ),
    },
    {
        "code": "clinician-reply-notice",
        "name": "Clinician Reply Notice",
        "audience": "staff",
        "selection": "all_staff",
        "is_manual": False,
        "setting_number": None,
        "sort_order": 88,
        # To the appointment's clinician when a client asks to cancel: ids and times only, no client name.
        "templates": _client_templates(
            "{{ practice_name }}: a client asked to cancel appointment #{{ appointment_id }} on "
            "{{ appointment_date }} at {{ appointment_time }}. Review: {{ appointment_url }}",
            "Client reply: asked to cancel (appointment #{{ appointment_id }})",
            "A client asked to cancel the appointment on {{ appointment_date }} at {{ appointment_time }} "
            "(appointment #{{ appointment_id }}).\n\nThe appointment's status has not been changed. Review it on "
            "the Scheduled Appointments screen:\n{{ appointment_url }}\n",
            "This is {{ practice_name }}. A client asked to cancel appointment number {{ appointment_id }}.",
            "A client asked to cancel appointment #{{ appointment_id }} on {{ appointment_date }}.",
        ),
    },
    {
        "code": "ad-hoc-clients",
        "name": "Ad Hoc (clients)",
        "audience": "clients",
        "selection": "all_clients",
        "is_manual": True,
        "setting_number": None,
        "sort_order": 90,
        "templates": _client_templates(
            "{{ practice_name }}: {{ description }}",
            "A message from {{ practice_name }}",
            "Hello {{ first_name }},\n\n{{ description }}\n\n{{ practice_name }} {{ practice_phone }}",
            "This is {{ practice_name }}. {{ description }}",
            "{{ description }}\n\n{{ practice_name }} {{ practice_phone }}",
        ),
    },
    {
        "code": "ad-hoc-staff",
        "name": "Ad Hoc (staff users)",
        "audience": "staff",
        "selection": "all_staff",
        "is_manual": True,
        "setting_number": None,
        "sort_order": 95,
        "templates": _client_templates(
            "{{ practice_name }}: {{ description }}",
            "Staff notice",
            "Hello {{ first_name }},\n\n{{ description }}",
            "This is {{ practice_name }}. {{ description }}",
            "{{ description }}",
        ),
    },
]


def ensure_reference_data(**kwargs: Any) -> None:
    """post_migrate: create missing setting rows and standard message types (idempotent)."""
    from messaging.beat import ensure_periodic_tasks
    from messaging.models import MessageTemplate, MessageType, SystemSetting
    from messaging.system_settings import REGISTRY, clear_cache

    existing = set(SystemSetting.objects.values_list("number", flat=True))
    SystemSetting.objects.bulk_create(
        [SystemSetting(number=n, value=d.default) for n, d in REGISTRY.items() if n not in existing]
    )
    clear_cache()
    ensure_periodic_tasks()  # the dispatcher's sweep on beat
    known = set(MessageTemplate.objects.values_list("channel", flat=True).distinct())
    for spec in MESSAGE_TYPES:
        fields = {k: v for k, v in spec.items() if k not in {"code", "templates"}}
        message_type, created = MessageType.objects.get_or_create(code=spec["code"], defaults=fields)
        # A new type gets all its templates; an existing one only those of a channel this installation
        # has never had (the portal, when it was added). Templates an administrator edited or deleted stay so.
        wanted = spec["templates"] if created else {k: v for k, v in spec["templates"].items() if k not in known}
        MessageTemplate.objects.bulk_create(
            [MessageTemplate(message_type=message_type, channel=ch, **vals) for ch, vals in wanted.items()]
        )
