"""Orders as the after-sales tests need them (placed near store A, paid, shipped by A, delivered at
a chosen instant or now), serial-tracked SKUs, stock on hand and small images."""

import io
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from config.dates import SHANGHAI
from config.roles import SYSTEM
from orders.fulfilment import assignment_accept, order_ship
from orders.models import Order, OrderLine
from orders.services import order_delivered
from stores.models import Stock
from tests.factories import SKUFactory


def sh(*args) -> datetime:
    """An instant on the Shanghai wall clock."""
    return datetime(*args, tzinfo=SHANGHAI)


def placed_order(world, *, sku=None, quantity=1, member=None, channel=None, guide=None, pay=True, **fields):
    """A home-delivery order of `quantity` x `sku` (default the TV) on `channel` (default the mall)
    near store A, which gets the stock; with a guide credited, and paid unless `pay` is False.
    `fields` go to order_create as they are (recipient_phone, ...)."""
    order = world.ship_order(member=member, channel=channel, sku=sku, quantity=quantity, **fields)
    if guide is not None:
        Order.objects.filter(pk=order.pk).update(guide=guide)
        order.refresh_from_db()
    return world.pay(order) if pay else order


def ship_from_a(world, order, *, serials=None) -> OrderLine:
    """Store A accepts the paid order and ships its one line (with `serials`, if any)."""
    assert order.fulfilling_location == world.a
    assignment_accept(order=order, store=world.a, actor=SYSTEM)
    line = order.lines.get()
    order_ship(
        order=order,
        store=world.a,
        tracking_number="SF1",
        serials={line.pk: list(serials)} if serials else None,
        actor=SYSTEM,
    )
    return line


def delivered_line(world, *, at: datetime, sku=None, quantity: int = 1, serials: list[str] | None = None):
    """A home-delivery order of `quantity` x `sku` (default the TV), paid, shipped by store A and
    delivered at `at`: the line gets the policy in force at `at`, as order_complete would give it."""
    order = placed_order(world, sku=sku, quantity=quantity)
    line = ship_from_a(world, order, serials=serials)
    order = Order.objects.get(pk=order.pk)
    lines = list(order.lines.select_related("sku__product__category"))
    order_delivered(order=order, lines=lines, at=at)
    return loaded(line)


def loaded(line) -> OrderLine:
    """The line as a ticket screen loads it (eligibility then costs no query)."""
    return OrderLine.objects.select_related("order", "sku__product", "warranty_policy").get(pk=line.pk)


def serial_sku(code="TV-S"):
    """A serial-tracked SKU with a price on every channel."""
    from catalog.services import price_set

    sku = SKUFactory(code=code, serial_tracked=True)
    price_set(
        sku=sku,
        channel=None,
        amount=Decimal("2999.00"),
        valid_from=timezone.now() - timedelta(days=1),
        actor=SYSTEM,
    )
    return sku


def on_hand(store, sku) -> int:
    stock = Stock.objects.filter(location=store, sku=sku).first()
    return stock.on_hand if stock else 0


def png(name="fault.png", size=(8, 8), fmt="PNG") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")
