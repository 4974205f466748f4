"""Orders completed before delivery was recorded take the time of their move to completed."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderStatusChange = apps.get_model("orders", "OrderStatusChange")
    completed = OrderStatusChange.objects.filter(order=OuterRef("pk"), to_status="completed").order_by(
        "changed_at"
    )
    Order.objects.filter(delivered_at__isnull=True, status__in=["completed", "partly_returned", "returned"]).update(
        delivered_at=Subquery(completed.values("changed_at")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_attribution_delivery_serials")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
