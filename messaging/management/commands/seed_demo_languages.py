"""Demo only: Spanish texts of the client message types (issue 14 §4), so the demo's Spanish-speaking
clients (one in nine, ``seed_demo``) get their messages in Spanish.

`make demo` runs it after `seed_demo`, before anything is sent. For each message type below, every
channel the type has a template on gets a Spanish variant, unless it has one already (an edit made on
the Templates screen stays). Dates and times are filled in Spanish ("martes 8 de diciembre", "14:30")
because the text is Spanish (``messaging.rendering``). Refuses outside demo mode.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from messaging.bootstrap import _client_templates
from messaging.models import MessageTemplate, MessageType

SPANISH = "es"

# code -> (SMS, e-mail subject, e-mail text, voice script, fax). The SMS texts avoid á, í, ó, ú (not in
# the GSM-7 alphabet: one of them would make every segment hold 70 characters instead of 160).
TEXTS: dict[str, tuple[str, str, str, str, str]] = {
    "client-upcoming-appointment": (
        "{{ practice_name }}: su cita es el {{ appointment_date }}, {{ appointment_time }}."
        " {{ confirm_instructions }} Responda STOP para darse de baja.",
        "Recordatorio de su cita en {{ practice_name }}",
        "Hola, {{ first_name }}:\n\nLe recordamos su cita el {{ appointment_date }} a las {{ appointment_time }}"
        " con {{ clinician_name }} ({{ location }}).\n\nPara confirmar o cambiar la cita, llame al "
        "{{ practice_phone }}.\n\n{{ practice_name }}",
        "Hola, le llamamos de {{ practice_name }} para recordarle una cita el {{ appointment_date }} a las "
        "{{ appointment_time }}. Para confirmar, oprima 1. Si tiene preguntas, llame al {{ practice_phone }}.",
        "Recordatorio de cita\n\n{{ first_name }}, tiene una cita el {{ appointment_date }} a las "
        "{{ appointment_time }} con {{ clinician_name }}.\nLugar: {{ location }}\n\n"
        "Preguntas: {{ practice_phone }}\n{{ practice_name }}",
    ),
    "initial-appointment-confirmation": (
        "{{ practice_name }}: bienvenido/a. Su primera cita es el {{ appointment_date }} a las "
        "{{ appointment_time }}. {{ confirm_instructions }}",
        "Bienvenido/a a {{ practice_name }}",
        "Hola, {{ first_name }}:\n\nBienvenido/a a {{ practice_name }}. Su primera cita es el "
        "{{ appointment_date }} a las {{ appointment_time }} con {{ clinician_name }} ({{ location }}).\n\n"
        "Preguntas: {{ practice_phone }}.",
        "Hola, le llamamos de {{ practice_name }}. Su primera cita es el {{ appointment_date }} a las "
        "{{ appointment_time }}. Para confirmar, oprima 1.",
        "Bienvenido/a\n\nSu primera cita: {{ appointment_date }} a las {{ appointment_time }}.\n"
        "Lugar: {{ location }}\nPreguntas: {{ practice_phone }}",
    ),
    "post-appointment-message": (
        "{{ practice_name }}: gracias por su visita de hoy. Preguntas? Llame al {{ practice_phone }}.",
        "Gracias de parte de {{ practice_name }}",
        "Hola, {{ first_name }}:\n\nGracias por su visita del {{ appointment_date }}. Si tiene alguna "
        "pregunta, llame al {{ practice_phone }}.\n\n{{ practice_name }}",
        "Hola, le llamamos de {{ practice_name }}. Gracias por su visita. Si tiene preguntas, llame al "
        "{{ practice_phone }}.",
        "Gracias por su visita del {{ appointment_date }}.\nPreguntas: {{ practice_phone }}",
    ),
    "jaas-telehealth-1": (
        "{{ practice_name }}: su consulta por video es el {{ appointment_date }} a las {{ appointment_time }}. "
        "Entre: {{ telehealth_link }}",
        "Su consulta por video con {{ practice_name }}",
        "Hola, {{ first_name }}:\n\nSu consulta por video es el {{ appointment_date }} a las "
        "{{ appointment_time }} con {{ clinician_name }}.\n\nEntre aquí: {{ telehealth_link }}\n\n{{ practice_name }}",
        "Hola, le llamamos de {{ practice_name }}. Su consulta por video es el {{ appointment_date }} a las "
        "{{ appointment_time }}. Le enviamos el enlace por mensaje de texto o correo electrónico.",
        "Consulta por video el {{ appointment_date }} a las {{ appointment_time }}.\nEnlace: {{ telehealth_link }}",
    ),
    "ad-hoc-clients": (
        "{{ practice_name }}: {{ description }}",
        "Un mensaje de {{ practice_name }}",
        "Hola, {{ first_name }}:\n\n{{ description }}\n\n{{ practice_name }} {{ practice_phone }}",
        "Le llamamos de {{ practice_name }}. {{ description }}",
        "{{ description }}\n\n{{ practice_name }} {{ practice_phone }}",
    ),
}


def spanish_templates() -> int:
    """Add the missing Spanish variants; answers how many were made."""
    made = 0
    for code, texts in TEXTS.items():
        message_type = MessageType.objects.filter(code=code).first()
        if message_type is None:
            continue
        wanted = _client_templates(*texts)
        have = set(MessageTemplate.objects.filter(message_type=message_type).values_list("channel", "language"))
        channels = {channel for channel, _ in have}
        rows = [
            MessageTemplate(message_type=message_type, channel=channel, language=SPANISH, **values)
            for channel, values in wanted.items()
            if channel in channels and (channel, SPANISH) not in have
        ]
        MessageTemplate.objects.bulk_create(rows)
        made += len(rows)
    return made


class Command(BaseCommand):
    help = "Demo mode: Spanish texts of the appointment and ad hoc client message types (every channel)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("seed_demo_languages adds demo texts: only in demo mode (PIMSY_DEMO=1).")
        made = spanish_templates()
        self.stdout.write(self.style.SUCCESS(f"{made} Spanish template texts added (clients who prefer Spanish)."))
