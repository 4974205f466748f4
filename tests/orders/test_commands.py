from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from config.roles import SYSTEM
from orders.choices import AssignmentStatus
from orders.models import StoreAssignment
from orders.services import order_pay
from tests.orders.test_services import ship_order


@pytest.mark.django_db
def test_expiry_command_moves_unanswered_orders_on(world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 1)
    order = ship_order(world, km_north=1)
    order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
    StoreAssignment.objects.filter(order=order).update(respond_by=timezone.now() - timedelta(minutes=1))
    out = StringIO()
    call_command("orders_expire_offers", stdout=out)
    assert "1 unanswered orders moved" in out.getvalue()
    order.refresh_from_db()
    assert order.fulfilling_location == world.b
    assert order.assignments.get(store=world.a).status == AssignmentStatus.EXPIRED
