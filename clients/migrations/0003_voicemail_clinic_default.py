"""The answer to "OK to leave voicemail" gets a third choice, "Clinic default" (issue 12): the clinic-wide setting
decides unless the client chose Yes or No. New profiles start at the clinic default; every existing
profile keeps its stored answer as an explicit Yes or No (a No may have been the client's wish, so
it is never turned into the clinic's Yes)."""

from django.db import migrations, models


def copy_answers(apps, schema_editor):
    profiles = apps.get_model("clients", "MessagingProfile")
    profiles.objects.filter(voicemail_ok=True).update(voicemail_choice="yes")
    profiles.objects.filter(voicemail_ok=False).update(voicemail_choice="no")


def copy_back(apps, schema_editor):
    profiles = apps.get_model("clients", "MessagingProfile")
    profiles.objects.filter(voicemail_choice="yes").update(voicemail_ok=True)
    profiles.objects.exclude(voicemail_choice="yes").update(voicemail_ok=False)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_automation_portal_replies"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagingprofile",
            name="voicemail_choice",
            field=models.CharField(default="default", max_length=8),
        ),
        migrations.RunPython(copy_answers, copy_back),
        migrations.RemoveField(model_name="messagingprofile", name="voicemail_ok"),
        migrations.RenameField(model_name="messagingprofile", old_name="voicemail_choice", new_name="voicemail_ok"),
        migrations.AlterField(
            model_name="messagingprofile",
            name="voicemail_ok",
            field=models.CharField(
                choices=[("default", "Clinic default"), ("yes", "Yes"), ("no", "No")],
                default="default",
                help_text="Clinic default: the clinic's setting decides (Yes unless changed). Yes / No: this "
                "client's own choice. If no, a call answered by a machine leaves no message.",
                max_length=8,
                verbose_name="OK to leave voicemail",
            ),
        ),
    ]
