"""The brand's default attribution window (15 days) and a first guide level."""

from django.db import migrations


def seed(apps, schema_editor):
    AttributionWindow = apps.get_model("guides", "AttributionWindow")
    GuideLevel = apps.get_model("guides", "GuideLevel")
    if not AttributionWindow.objects.filter(channel__isnull=True).exists():
        AttributionWindow.objects.create(channel=None, days=15)
    GuideLevel.objects.get_or_create(code="standard", defaults={"name": "Standard", "rank": 0})


class Migration(migrations.Migration):
    dependencies = [("guides", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
