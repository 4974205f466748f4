"""guides.demo: levels, rules and a marketplace window through the services, guides for the demo
logins (with QR codes), fan guides, scans and bindings replayed through the binding services,
demo orders of bound members attributed, and a second run that creates nothing."""

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Q
from django.test import Client
from django.utils import timezone

from config.roles import Role
from guides import demo
from guides.choices import EntryKind, GuideStatus, ScanOutcome
from guides.models import (
    AttributionWindow,
    Binding,
    CommissionEntry,
    CommissionRule,
    CommissionRuleChange,
    Guide,
    GuideLevel,
    ScanEvent,
)
from guides.services import CODE_ALPHABET, CODE_LENGTH
from orders.models import Order
from portal.management.commands import seed_demo
from portal.management.commands.seed_demo import seed_app
from stores.choices import StaffRole, StoreKind
from stores.models import StaffMembership
from tests.dbstate import restore_seeded_rows

pytestmark = pytest.mark.django_db

SEEDED = ("catalog", "stores", "members", "guides", "orders")


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The small demo up to the orders (which come after the guides); committed, flushed after."""
    with django_db_blocker.unblock():
        counts = {app: seed_app(app, scale="small", seed=2026, log=lambda message: None) for app in SEEDED}
    yield counts
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        restore_seeded_rows()  # the default level and window, warranty policies, role groups


def demo_user(name):
    return get_user_model().objects.get(email=f"{name}@o2o.test")


def test_guides_are_seeded_before_the_orders_so_demo_orders_can_be_attributed():
    assert seed_demo.DEMO_APPS.index("members") < seed_demo.DEMO_APPS.index("guides")
    assert seed_demo.DEMO_APPS.index("guides") < seed_demo.DEMO_APPS.index("orders")


def test_levels_rules_and_the_marketplace_window_are_set_through_the_services(seeded):
    assert set(GuideLevel.objects.values_list("code", flat=True)) >= {"standard", "senior"}
    rules = {
        (r.category.code if r.category_id else None, r.level.code if r.level_id else None): str(
            r.rate_percent
        )
        for r in CommissionRule.objects.select_related("category", "level")
    }
    assert rules == {
        (None, None): "3.00",
        ("tv", None): "5.00",
        (None, "senior"): "4.00",
        ("tv", "senior"): "6.00",
    }
    assert CommissionRuleChange.objects.filter(action="started").count() == 4  # audited like HQ's
    assert AttributionWindow.objects.get(channel__code="jd").days == 7
    assert seeded["guides"]["commission rules"] == 4


def test_the_demo_logins_are_guides_with_qr_codes(seeded):
    guide = Guide.objects.select_related("store", "partner").get(user=demo_user("guide"))
    partner_user = demo_user("partner")
    assert guide.partner is not None and guide.partner.users.filter(pk=partner_user.pk).exists()
    assert guide.store.kind == StoreKind.PARTNER and guide.store.partner == guide.partner

    manager_store = StaffMembership.objects.get(user=demo_user("manager"), role=StaffRole.MANAGER).store
    clerk, manager = (Guide.objects.get(user=demo_user(name)) for name in ("clerk", "manager"))
    assert clerk.store == manager_store and manager.store == manager_store
    assert manager.level.code == "senior"
    for g in (guide, clerk, manager):
        assert g.user.groups.filter(name=Role.GUIDE).exists()
        assert g.status == GuideStatus.ACTIVE
        response = Client().get(f"/g/{g.code}/qr.png")
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert Binding.objects.filter(guide=g).exists()  # every demo login has fans to show


def test_fan_guides_have_unique_readable_codes_and_one_is_suspended(seeded):
    fans = Guide.objects.filter(user__isnull=True)
    assert fans.count() == demo.FAN_GUIDES_PER_SCALE["small"]
    codes = list(Guide.objects.values_list("code", flat=True))
    assert len(set(codes)) == len(codes)
    assert all(
        len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in fans.values_list("code", flat=True)
    )
    assert fans.filter(level__code="senior").exists() and fans.filter(level__code="standard").exists()
    suspended = Guide.objects.get(status=GuideStatus.SUSPENDED)
    assert suspended.suspended_reason == demo.SUSPENDED_REASON
    assert ScanEvent.objects.filter(guide=suspended, outcome=ScanOutcome.SUSPENDED).count() == 3


def test_scans_and_bindings_follow_the_binding_rules(seeded):
    bindings = Binding.objects.count()
    assert 40 <= bindings <= 80
    assert seeded["guides"]["bindings"] == bindings
    # One open binding per member; every ended one was taken over by a later scan.
    assert (
        not Binding.objects.filter(ended_at__isnull=True)
        .values("member")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    for ended in Binding.objects.filter(ended_at__isnull=False).select_related("ended_by"):
        assert ended.ended_by.member_id == ended.member_id and ended.ended_by.started_at == ended.ended_at
    outcomes = dict(ScanEvent.objects.values_list("outcome").annotate(n=Count("pk")))
    assert {
        ScanOutcome.BOUND,
        ScanOutcome.OPENED,
        ScanOutcome.EXTENDED,
        ScanOutcome.REBOUND,
        ScanOutcome.STORE,
    } <= set(outcomes)
    assert outcomes[ScanOutcome.BOUND] + outcomes[ScanOutcome.REBOUND] == bindings
    # Each binding's first scan is a scan of its guide by its member at its start.
    for binding in Binding.objects.all():
        assert ScanEvent.objects.filter(
            guide=binding.guide_id, member=binding.member_id, scanned_at=binding.started_at
        ).exists(), binding
    # Some fans are still inside the window, some ran out (scans spread over weeks).
    active = Q(ended_at__isnull=True, ends_at__gt=timezone.now())
    assert Binding.objects.filter(active).exists() and Binding.objects.exclude(active).exists()


def test_demo_orders_of_bound_members_are_attributed_and_accrue_commission(seeded):
    attributed = Order.objects.filter(guide__isnull=False)
    assert attributed.exists()
    for order in attributed.select_related("binding"):
        assert order.binding.member_id == order.member_id and order.binding.guide_id == order.guide_id
        assert order.attribution_reason.startswith("Guide ")
        if order.paid_at is not None:  # accrued when paid (a cancellation claws back, later)
            assert CommissionEntry.objects.filter(order=order, kind=EntryKind.ACCRUAL).exists()
    assert Order.objects.filter(guide__isnull=True, attribution_reason__startswith="Not attributed").exists()


def test_a_second_run_creates_nothing(seeded, monkeypatch):
    assert demo.loaded_scale() == "small"
    before = {model._meta.label: model.objects.count() for model in apps.get_models()}
    monkeypatch.setattr(seed_demo, "DEMO_APPS", SEEDED)  # the apps this module seeded

    out = StringIO()
    call_command("seed_demo", scale="medium", stdout=out)

    assert {model._meta.label: model.objects.count() for model in apps.get_models()} == before
    assert "guides: demo data already loaded (scale small)" in out.getvalue()
