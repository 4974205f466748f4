"""Demo service tickets for `manage.py seed_demo`: returns, exchanges and repairs on delivered demo
orders, made through aftersales.services and left at every step (opened, received, inspected,
approved, refused, resolved, closed), so every ledger they touch (refunds, stock, points, revenue
shares, serials, the ticket history) is what real use writes.

The demo clerk's stores come first: their desk has open tickets to work, some taken in for
online orders another store fulfilled ("一个服务"). Times are the services' own (now): the demo
orders were delivered today, so every request is inside its window. The choices come from the
seeded rng; only ticket numbers are random.
"""

import random
from collections.abc import Callable

from django.db.models import Count

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket
from aftersales.services import (
    ticket_approve,
    ticket_close,
    ticket_inspect,
    ticket_open,
    ticket_receive,
    ticket_refuse,
    ticket_resolve,
)
from config.errors import DomainError
from config.roles import SYSTEM
from members.demo import demo_people
from members.services import tiers_refresh
from orders.choices import OrderStatus
from orders.models import OrderLine
from stores.choices import StoreKind

TICKETS_PER_SCALE = {"small": 12, "medium": 40, "large": 80}
# (kind, how far it gets), taken in turn: every kind at every step.
PLANS = (
    (TicketKind.RETURN, "closed"),
    (TicketKind.REPAIR, "received"),
    (TicketKind.EXCHANGE, "resolved"),
    (TicketKind.RETURN, "opened"),
    (TicketKind.REPAIR, "resolved"),
    (TicketKind.EXCHANGE, "inspected"),
    (TicketKind.RETURN, "refused"),
    (TicketKind.REPAIR, "approved"),
    (TicketKind.RETURN, "resolved"),
    (TicketKind.EXCHANGE, "opened"),
    (TicketKind.REPAIR, "closed"),
    (TicketKind.RETURN, "approved"),
)
STEPS = ("opened", "received", "inspected", "approved", "resolved", "closed")
DESCRIPTIONS = {
    TicketKind.RETURN: (
        "Screen shows vertical lines from the first day",
        "Does not switch on; the light blinks red",
        "Makes a loud buzzing noise",
    ),
    TicketKind.EXCHANGE: (
        "Dead pixels in the middle of the screen",
        "Door seal is torn out of the box",
        "Remote and panel buttons do not respond",
    ),
    TicketKind.REPAIR: (
        "Sound cuts out after an hour",
        "Wi-Fi drops every few minutes",
        "Ice maker leaks water",
    ),
}
INSPECTION_NOTES = ("Fault confirmed on the bench", "Reproduced the fault", "Customer's description is right")
REFUSE_REASONS = (
    "Water damage: not covered by the warranty",
    "Cracked by a fall: damage, not a fault",
    "No fault found after a full test",
)
REPAIR_NOTES = (
    "Replaced the main board",
    "Replaced the power supply",
    "Re-seated the panel cable; tested 2 h",
)


def loaded_scale() -> str | None:
    """The scale already loaded, if demo tickets are there (the marker), else None."""
    tickets = Ticket.objects.count()
    if not tickets:
        return None
    return min(TICKETS_PER_SCALE, key=lambda scale: abs(TICKETS_PER_SCALE[scale] - tickets))


class _TicketSeeder:
    def __init__(self, rng: random.Random, log: Callable[[str], None]):
        self.rng = rng
        self.log = log
        self.serial = 0
        self.counts = {"tickets": 0, "plans skipped (refused by a service)": 0, "of them stopped short": 0}

    def run(self, scale: str) -> dict[str, int]:
        people = demo_people()
        self.clerk = people.clerk
        self.clerk_stores = list(people.clerk_stores) or [people.store]
        wanted = TICKETS_PER_SCALE[scale]
        lines = self._lines(wanted)
        for n, line in enumerate(lines[:wanted]):
            kind, last_step = PLANS[n % len(PLANS)]
            self._run(line, kind, last_step, n)
        return self.counts

    def _lines(self, wanted: int) -> list[OrderLine]:
        """Lines of completed (delivered) demo orders of members (the customer's mobile is the
        ticket's key): the clerk's stores' first, then others."""
        delivered = (
            OrderLine.objects.filter(
                order__status=OrderStatus.COMPLETED,
                order__delivered_at__isnull=False,
                order__member__isnull=False,
            )
            .select_related("order__fulfilling_location", "order__member", "sku")
            .prefetch_related("units")
            .order_by("order__delivered_at", "id")
        )
        mine = list(delivered.filter(order__fulfilling_location__in=self.clerk_stores)[: wanted * 2])
        others = list(delivered.exclude(order__fulfilling_location__in=self.clerk_stores)[: wanted * 4])
        self.rng.shuffle(others)
        half = wanted // 2
        return mine[:half] + others[: wanted - min(half, len(mine))] + mine[half:]

    def _where(self, line: OrderLine, n: int):
        """Who takes it in, and how: mostly the clerk's store (also for online orders another store
        fulfilled), sometimes the store that delivered it, HQ customer service or a channel's API."""
        fulfilled = line.order.fulfilling_location
        store = fulfilled if fulfilled is not None and fulfilled.kind != StoreKind.WAREHOUSE else None
        if n % 6 == 5:
            return OpenedVia.API, None, store or self.clerk_stores[0]
        if n % 6 == 4:
            return OpenedVia.HQ, None, store or self.clerk_stores[0]
        intake = self.clerk_stores[n % len(self.clerk_stores)] if n % 3 != 2 or store is None else store
        return OpenedVia.STORE, intake, intake

    def _run(self, line: OrderLine, kind: str, last_step: str, n: int) -> None:
        rng = self.rng
        via, intake, receiving = self._where(line, n)
        if kind == TicketKind.EXCHANGE and line.order.fulfilling_location is not None:
            # The replacement comes from the receiving store's shelf: the store that had the goods.
            if line.order.fulfilling_location.kind != StoreKind.WAREHOUSE:
                receiving = line.order.fulfilling_location
                intake = receiving if via == OpenedVia.STORE else None
        units = [unit for unit in line.units.all() if unit.returned_at is None]
        # The clerk acts where they work (the services ask the policy); elsewhere the system does.
        user = self.clerk if receiving in self.clerk_stores else SYSTEM
        try:
            ticket = ticket_open(
                line=line,
                kind=kind,
                fault=True,
                quantity=1,
                serial=units[0].serial if units else "",
                description=rng.choice(DESCRIPTIONS[kind]),
                opened_via=via,
                intake_store=intake,
                actor=self.clerk if intake in self.clerk_stores else SYSTEM,
            )
        except DomainError:
            self.counts["plans skipped (refused by a service)"] += 1
            return
        self.counts["tickets"] += 1
        try:
            self._advance(ticket, receiving, last_step, user)
        except DomainError:
            self.counts["of them stopped short"] += 1

    def _advance(self, ticket: Ticket, store, last_step: str, user) -> None:
        rng = self.rng
        reach = STEPS.index(last_step) if last_step != "refused" else STEPS.index("inspected")
        if reach >= STEPS.index("received"):
            ticket_receive(ticket=ticket, store=store, actor=user)
        if reach >= STEPS.index("inspected"):
            ticket_inspect(ticket=ticket, actor=user, note=rng.choice(INSPECTION_NOTES))
        if last_step == "refused":
            ticket_refuse(ticket=ticket, reason=rng.choice(REFUSE_REASONS), actor=user)
            return
        if reach >= STEPS.index("approved"):
            ticket_approve(ticket=ticket, actor=user)
        if reach >= STEPS.index("resolved"):
            extra = {}
            if ticket.kind == TicketKind.EXCHANGE and ticket.line.sku.serial_tracked:
                self.serial += 1
                extra["replacement_serial"] = f"RX{rng.randrange(10**8):08d}{self.serial:04d}"
            note = rng.choice(REPAIR_NOTES) if ticket.kind == TicketKind.REPAIR else ""
            ticket_resolve(ticket=ticket, actor=user, store=store, note=note, **extra)
        if reach >= STEPS.index("closed"):
            ticket_close(ticket=ticket, actor=user)


def seed(*, scale: str, rng: random.Random, log: Callable[[str], None] = print) -> dict[str, int]:
    """Create the demo service tickets for `scale` through the ticket services; returns the number
    of rows created per kind."""
    made = _TicketSeeder(rng, log).run(scale)
    tiers_refresh()  # the nightly job, so tiers follow the spend that returns took back
    by_status = dict(Ticket.objects.values_list("status").annotate(n=Count("pk")))
    counts = {"tickets": made.pop("tickets")}
    for status in (TicketStatus.OPENED, TicketStatus.REFUSED, TicketStatus.CLOSED):
        counts[f"of them {TicketStatus(status).label.lower()}"] = by_status.get(status, 0)
    counts["resolved (refunded, exchanged, repaired)"] = sum(
        by_status.get(s, 0) for s in (TicketStatus.REFUNDED, TicketStatus.EXCHANGED, TicketStatus.REPAIRED)
    )
    counts.update({label: n for label, n in made.items() if n})  # refusals, if any
    return counts
