"""AppointmentReply, AutomationRule and PortalMessageRead moved to the messaging app (issue 11: the
EHR app knows nothing of messaging). Only Django's state changes here; the tables stay as they are
and ``messaging 0014`` takes them over under the same names."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0004_appointment_replies_plural"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="appointmentreply", name="appointment"),
                migrations.RemoveField(model_name="appointmentreply", name="delivery"),
                migrations.RemoveField(model_name="appointmentreply", name="inbound"),
                migrations.RemoveField(model_name="appointmentreply", name="reviewed_by"),
                migrations.RemoveConstraint(model_name="automationrule", name="one_rule_per_type_offset"),
                migrations.RemoveConstraint(model_name="portalmessageread", name="one_read_per_message"),
                migrations.DeleteModel(name="AppointmentReply"),
                migrations.RemoveField(model_name="portalmessageread", name="account"),
                migrations.RemoveField(model_name="portalmessageread", name="delivery"),
                migrations.DeleteModel(name="AutomationRule"),
                migrations.DeleteModel(name="PortalMessageRead"),
            ],
            database_operations=[],
        ),
    ]
