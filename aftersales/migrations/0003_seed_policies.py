"""The two policies every brand starts with: the national standard (7-day return, exchange and
repair) as the default until the brand's promise took over (15-day return, 30-day exchange and
repair, then a 12-month warranty)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import migrations

SHANGHAI = ZoneInfo("Asia/Shanghai")
BRAND_PROMISE_FROM = datetime(2026, 1, 1, tzinfo=SHANGHAI)


def seed(apps, schema_editor):
    WarrantyPolicy = apps.get_model("aftersales", "WarrantyPolicy")
    if WarrantyPolicy.objects.exists():
        return
    WarrantyPolicy.objects.create(
        code="national-standard",
        name="National standard (7/7/7)",
        return_days=7,
        exchange_days=7,
        repair_days=7,
        warranty_months=12,
        no_fault_return_days=7,
        valid_from=datetime(2000, 1, 1, tzinfo=SHANGHAI),
        valid_to=BRAND_PROMISE_FROM,
    )
    WarrantyPolicy.objects.create(
        code="brand-promise",
        name="Brand promise (15/30/30 + 12 months)",
        return_days=15,
        exchange_days=30,
        repair_days=30,
        warranty_months=12,
        no_fault_return_days=7,
        valid_from=BRAND_PROMISE_FROM,
    )


class Migration(migrations.Migration):
    dependencies = [("aftersales", "0002_tickets")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
