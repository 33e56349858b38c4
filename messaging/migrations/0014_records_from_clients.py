"""AppointmentReply, AutomationRule and PortalMessageRead now belong to messaging (issue 11). Their
tables keep the names the clients app gave them, so only Django's state moves; their content types
(and with them every permission and admin log entry) are relabelled from clients to messaging."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ("appointmentreply", "automationrule", "portalmessageread")


def relabel(apps, schema_editor, old="clients", new="messaging"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def relabel_back(apps, schema_editor):
    relabel(apps, schema_editor, old="messaging", new="clients")


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0005_messaging_records_moved"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("messaging", "0013_partial_delivery_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AppointmentReply",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "answer",
                            models.CharField(
                                choices=[
                                    ("none", "No reply"),
                                    ("confirmed", "Client confirmed"),
                                    ("declined", "Client asked to cancel"),
                                ],
                                max_length=12,
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                choices=[("sms", "Text reply"), ("voice", "Phone keypad"), ("staff", "Staff")],
                                max_length=8,
                            ),
                        ),
                        ("text", models.CharField(blank=True, max_length=320, verbose_name="What the client sent")),
                        ("received_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "appointment",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="client_replies",
                                to="clients.appointment",
                            ),
                        ),
                        (
                            "delivery",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="appointment_replies",
                                to="messaging.delivery",
                            ),
                        ),
                        (
                            "inbound",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="appointment_reply",
                                to="messaging.inboundmessage",
                            ),
                        ),
                        (
                            "reviewed_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "appointment replies",
                        "db_table": "clients_appointmentreply",
                        "ordering": ["-received_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="AutomationRule",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("amount", models.PositiveIntegerField(help_text="How many minutes / hours / days.")),
                        (
                            "unit",
                            models.CharField(
                                choices=[("m", "minutes"), ("h", "hours"), ("d", "days")], default="d", max_length=1
                            ),
                        ),
                        (
                            "channels",
                            models.JSONField(
                                blank=True,
                                default=list,
                                help_text="Contact methods to use. None ticked: the recipient's preferred contact method.",
                            ),
                        ),
                        ("active", models.BooleanField(default=True)),
                        ("note", models.CharField(blank=True, max_length=200)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "message_type",
                            models.ForeignKey(
                                limit_choices_to={"is_manual": False},
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="automation_rules",
                                to="messaging.messagetype",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "automated message send time",
                        "db_table": "clients_automationrule",
                        "ordering": ["message_type", "unit", "amount"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("message_type", "amount", "unit"), name="one_rule_per_type_offset"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="PortalMessageRead",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("read_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="reads",
                                to="clients.portalaccount",
                            ),
                        ),
                        (
                            "delivery",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="messaging.delivery"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "clients_portalmessageread",
                        "constraints": [
                            models.UniqueConstraint(fields=("account", "delivery"), name="one_read_per_message")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(relabel, relabel_back),
    ]
