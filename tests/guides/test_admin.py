"""HQ's admin for guides: every change list in a constant number of queries; guides registered,
suspended (with the reason asked on an intermediate page) and reinstated through the services;
windows and commission rules set through theirs (with the audit row); statements approved, paid
and exported through guides.settlement; records that nobody adds, edits or deletes by hand."""

import csv
import html
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.roles import SYSTEM, Role
from guides.choices import EntryKind, GuideStatus, StatementParty, StatementStatus
from guides.commission import commission_rule_set
from guides.models import (
    AttributionWindow,
    Binding,
    CommissionEntry,
    CommissionRule,
    CommissionRuleChange,
    Guide,
    PartnerReward,
    PartnerRewardRule,
    Statement,
)
from guides.services import CODE_ALPHABET, guide_register, guide_suspend, member_bind, scan_open
from tests.factories import (
    CategoryFactory,
    ChannelFactory,
    GuideLevelFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    hq_user,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def page(response) -> str:
    return html.unescape(response.content.decode())


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def run_action(client, url, action, objects, on_page=False, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0}
    if on_page:  # Django 6.1 actions on the object's change page
        data = {"CHANGE_FORM-action": action, "_selected_action": [o.pk for o in objects]}
    return client.post(url, {**data, **extra}, follow=True)


def guide(**kwargs):
    return guide_register(user=kwargs.pop("user", None), name=kwargs.pop("name", "Li Na"), **kwargs)


def entry(guide_, *, statement=None, kind=EntryKind.RELEASE, payable="5.00", at=None, partner=None):
    return CommissionEntry.objects.create(
        kind=kind,
        guide=guide_,
        partner=partner or guide_.partner,
        store=guide_.store,
        payable_change=D(payable),
        statement=statement,
        note="=CMD()",
        created_at=at or datetime(2025, 3, 10, 12, tzinfo=SHANGHAI),
    )


def statement_with_entry(guide_, period=date(2025, 3, 1)):
    statement = Statement.objects.create(
        party=StatementParty.GUIDE, guide=guide_, period=period, total=D("5.00"), entry_count=1
    )
    entry(guide_, statement=statement)
    return statement


# --- lists and pages --------------------------------------------------------------------------


def grow(n: int) -> None:
    """n more of every kind of row, each with every relation its list row shows filled in."""
    level = GuideLevelFactory()
    for _ in range(n):
        partner = PartnerFactory()
        store = StoreFactory(partner=partner)
        channel = ChannelFactory()
        g = guide(store=store, partner=partner, level=level, user=UserFactory())
        binding = member_bind(member=MemberFactory(), guide=g, scan=scan_open(guide=g))
        member_bind(member=binding.member, guide=guide(store=store))  # a rebound binding
        commission_rule_set(
            rate_percent=D("3"), channel=channel, category=CategoryFactory(), level=level, actor=hq_user()
        )
        AttributionWindow.objects.create(channel=channel, days=7)
        statement = statement_with_entry(g)
        rule = PartnerRewardRule.objects.create(year=2000 + Guide.objects.count(), top_n=1, bonus=D("10"))
        reward_entry = entry(g, kind=EntryKind.REWARD, partner=partner)
        PartnerReward.objects.create(
            rule=rule, partner=partner, rank=1, attributed_sales=D("100"), entry=reward_entry
        )
        assert statement.pk


CHANGE_LISTS = [
    "guidelevel",
    "guide",
    "attributionwindow",
    "scanevent",
    "binding",
    "commissionrule",
    "commissionrulechange",
    "commissionentry",
    "statement",
    "partnerrewardrule",
    "partnerreward",
]


@pytest.mark.parametrize("model", CHANGE_LISTS)
def test_change_lists_run_a_constant_number_of_queries(hq_client, model):
    url = f"/admin/guides/{model}/"
    grow(2)
    hq_client.get(url)  # warm per-request caches (content types, permissions)
    few = queries(hq_client, url)
    grow(8)
    assert queries(hq_client, url) == few


def test_every_guides_admin_page_renders(hq_client):
    grow(1)
    for model in CHANGE_LISTS:
        row = apps.get_model("guides", model).objects.order_by("pk").first()
        for url in (f"/admin/guides/{model}/", f"/admin/guides/{model}/{row.pk}/change/"):
            assert hq_client.get(url).status_code == 200, url
    for model in ("guidelevel", "guide", "attributionwindow", "commissionrule", "partnerrewardrule"):
        assert hq_client.get(f"/admin/guides/{model}/add/").status_code == 200, model


@pytest.mark.parametrize(
    "model", ["scanevent", "binding", "commissionentry", "commissionrulechange", "partnerreward", "statement"]
)
def test_records_cannot_be_added_edited_or_deleted(hq_client, model):
    grow(1)
    row = apps.get_model("guides", model).objects.order_by("pk").first()
    count = apps.get_model("guides", model).objects.count()

    assert hq_client.get(f"/admin/guides/{model}/add/").status_code == 403
    assert hq_client.post(f"/admin/guides/{model}/add/", {}).status_code == 403
    assert hq_client.post(f"/admin/guides/{model}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    text = page(hq_client.get(f"/admin/guides/{model}/{row.pk}/change/"))
    assert 'name="_save"' not in text
    assert apps.get_model("guides", model).objects.count() == count


# --- guides -----------------------------------------------------------------------------------


def test_adding_a_guide_registers_them_with_a_code_and_the_guide_role(hq_client):
    user = UserFactory()
    store = StoreFactory(code="S1")
    level = GuideLevelFactory(code="senior")

    response = hq_client.post(
        "/admin/guides/guide/add/",
        {
            "user": user.pk,
            "name": "Chen Jing",
            "phone": "+86 139 0000 1111",
            "store": store.pk,
            "level": level.pk,
        },
        follow=True,
    )

    assert response.status_code == 200
    g = Guide.objects.get(user=user)
    assert len(g.code) == 8 and set(g.code) <= set(CODE_ALPHABET)
    assert (g.name, g.phone, g.store, g.level) == ("Chen Jing", "13900001111", store, level)
    assert user.groups.filter(name=Role.GUIDE).exists()


def test_adding_a_second_guide_for_a_user_is_refused_on_the_form(hq_client):
    user = UserFactory()
    guide(user=user)

    response = hq_client.post("/admin/guides/guide/add/", {"user": user.pk, "name": "Again"})

    assert response.status_code == 200
    assert "Already a guide" in page(response)
    assert Guide.objects.filter(user=user).count() == 1


def test_guide_code_is_read_only_and_a_store_of_another_partner_is_refused(hq_client):
    g = guide(name="Li Na")
    code = g.code
    other = StoreFactory(code="P2S", partner=PartnerFactory(code="p2"))
    p1 = PartnerFactory(code="p1")
    url = f"/admin/guides/guide/{g.pk}/change/"

    response = hq_client.post(url, {"code": "HACKED22", "name": "Li Na Wang", "phone": ""}, follow=True)
    assert response.status_code == 200
    g.refresh_from_db()
    assert (g.code, g.name) == (code, "Li Na Wang")

    response = hq_client.post(url, {"name": "Li Na", "store": other.pk, "partner": p1.pk})
    assert "run by another partner" in page(response)
    g.refresh_from_db()
    assert g.store is None and g.partner is None


def test_suspend_asks_why_first_and_stores_the_reason(hq_client, hq):
    g1, g2 = guide(name="One"), guide(name="Two")

    asked = run_action(hq_client, "/admin/guides/guide/", "suspend", [g1, g2])
    text = page(asked)
    assert "Suspend guides" in text and "One" in text and "Two" in text and 'name="reason"' in text
    assert Guide.objects.filter(status=GuideStatus.SUSPENDED).count() == 0

    empty = run_action(hq_client, "/admin/guides/guide/", "suspend", [g1, g2], apply="1", reason="")
    assert "This field is required" in page(empty)
    assert Guide.objects.filter(status=GuideStatus.SUSPENDED).count() == 0

    done = run_action(hq_client, "/admin/guides/guide/", "suspend", [g1, g2], apply="1", reason="Fake fans")
    assert "Suspended 2 guides" in page(done)
    for g in (g1, g2):
        g.refresh_from_db()
        assert (g.status, g.suspended_reason) == (GuideStatus.SUSPENDED, "Fake fans")
        assert g.suspended_at is not None


def test_suspend_and_reinstate_from_the_guide_page(hq_client):
    g = guide()
    url = f"/admin/guides/guide/{g.pk}/change/"

    asked = run_action(hq_client, url, "suspend", [g], on_page=True)
    assert 'name="reason"' in page(asked)
    run_action(hq_client, url, "suspend", [g], on_page=True, apply="1", reason="Left the company")
    g.refresh_from_db()
    assert (g.status, g.suspended_reason) == (GuideStatus.SUSPENDED, "Left the company")

    run_action(hq_client, url, "reinstate", [g], on_page=True)
    g.refresh_from_db()
    assert (g.status, g.suspended_reason) == (GuideStatus.ACTIVE, "")


def test_suspending_a_suspended_guide_shows_the_refusal_and_suspends_the_others(hq_client):
    g1, g2 = guide(name="One"), guide(name="Two")
    guide_suspend(guide=g1, reason="First reason", actor=SYSTEM)

    done = run_action(hq_client, "/admin/guides/guide/", "suspend", [g1, g2], apply="1", reason="Second")

    text = page(done)
    assert "Suspended 1 guide" in text and "Cannot move guide" in text
    g1.refresh_from_db()
    g2.refresh_from_db()
    assert g1.suspended_reason == "First reason" and g2.suspended_reason == "Second"


def test_guide_list_finds_by_code_name_and_mobile_in_any_format(hq_client):
    target = guide(name="Zhang Wei", phone="13900001111")
    guide(name="Other", phone="13900002222")

    for term in (target.code, target.code.lower(), "Zhang", "+86 139 0000 1111"):
        rows = hq_client.get("/admin/guides/guide/", {"q": term}).context["cl"].result_list
        assert [g.pk for g in rows] == [target.pk], term


# --- attribution windows ----------------------------------------------------------------------


def test_windows_are_set_through_the_service(hq_client):
    jd = ChannelFactory(code="jd")
    g = guide()
    binding = member_bind(member=MemberFactory(), guide=g)
    default = AttributionWindow.objects.get(channel__isnull=True)

    response = hq_client.post(
        "/admin/guides/attributionwindow/add/", {"channel": jd.pk, "days": 7}, follow=True
    )
    assert response.status_code == 200
    assert AttributionWindow.objects.get(channel=jd).days == 7

    again = hq_client.post("/admin/guides/attributionwindow/add/", {"channel": jd.pk, "days": 9})
    assert "already has a window" in page(again)
    assert AttributionWindow.objects.filter(channel=jd).count() == 1

    hq_client.post(f"/admin/guides/attributionwindow/{default.pk}/change/", {"days": 20}, follow=True)
    default.refresh_from_db()
    assert default.days == 20
    before = binding.ends_at
    binding.refresh_from_db()
    assert binding.ends_at - before == timedelta(days=5)  # attribution_window_set moved open bindings

    refused = hq_client.post(f"/admin/guides/attributionwindow/{default.pk}/change/", {"days": 400})
    assert refused.status_code == 200 and "365" in page(refused)
    default.refresh_from_db()
    assert default.days == 20
    assert (
        hq_client.post(f"/admin/guides/attributionwindow/{default.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )


# --- commission rules -------------------------------------------------------------------------


def add_rule(client, *, at=None, **fields):
    now = at or datetime.now(SHANGHAI)
    data = {
        "channel": "",
        "category": "",
        "level": "",
        "rate_percent": "3.00",
        "fixed_per_unit": "0.00",
        "valid_from_0": now.strftime("%Y-%m-%d"),
        "valid_from_1": now.strftime("%H:%M:%S"),
        **fields,
    }
    return client.post("/admin/guides/commissionrule/add/", data, follow=True)


def test_adding_a_rule_goes_through_the_service_and_writes_the_audit_row(hq_client, hq):
    tv = CategoryFactory(code="tv")

    response = add_rule(hq_client, category=tv.pk, rate_percent="5.00")

    assert response.status_code == 200
    rule = CommissionRule.objects.get()
    assert (rule.category, rule.rate_percent, rule.created_by) == (tv, D("5.00"), hq)
    change = CommissionRuleChange.objects.get(rule=rule)
    assert (change.action, change.changed_by) == ("started", hq)
    assert change.detail["after"]["rate_percent"] == "5.00"

    later = datetime.now(SHANGHAI) + timedelta(hours=1)
    add_rule(hq_client, category=tv.pk, rate_percent="6.00", at=later)
    rule.refresh_from_db()
    assert rule.valid_to is not None
    assert CommissionRuleChange.objects.filter(rule=rule, action="ended", changed_by=hq).exists()
    assert CommissionRule.objects.count() == 2


def test_a_refused_rule_shows_the_service_message_and_writes_nothing(hq_client):
    response = add_rule(hq_client, rate_percent="120")

    assert "between 0 and 100 percent" in page(response)
    assert not CommissionRule.objects.exists() and not CommissionRuleChange.objects.exists()


def test_rules_are_never_edited_and_end_now_goes_through_the_service(hq_client, hq):
    rule = commission_rule_set(
        rate_percent=D("3"), valid_from=datetime.now(SHANGHAI) - timedelta(days=1), actor=SYSTEM
    )
    url = f"/admin/guides/commissionrule/{rule.pk}/change/"

    assert hq_client.post(url, {"rate_percent": "9.00"}).status_code == 403
    rule.refresh_from_db()
    assert rule.rate_percent == D("3.00")
    assert "Changes (who, when" in page(hq_client.get(url))

    run_action(hq_client, "/admin/guides/commissionrule/", "end_now", [rule])
    rule.refresh_from_db()
    assert rule.valid_to is not None
    assert CommissionRuleChange.objects.filter(rule=rule, action="ended", changed_by=hq).exists()


# --- statements and rewards -------------------------------------------------------------------


def test_statements_are_approved_then_paid_with_the_reference_asked(hq_client, hq):
    g = guide(name="Li Na")
    statement = statement_with_entry(g)

    assert (
        hq_client.post(f"/admin/guides/statement/{statement.pk}/change/", {"total": "999"}).status_code == 403
    )
    asked = run_action(hq_client, "/admin/guides/statement/", "mark_paid", [statement])
    assert 'name="payment_reference"' in page(asked)
    refused = run_action(
        hq_client, "/admin/guides/statement/", "mark_paid", [statement], apply="1", payment_reference="BANK-1"
    )
    assert "Cannot move" in page(refused)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DRAFT

    run_action(hq_client, "/admin/guides/statement/", "approve", [statement])
    statement.refresh_from_db()
    assert (statement.status, statement.approved_by) == (StatementStatus.APPROVED, hq)

    run_action(
        hq_client, "/admin/guides/statement/", "mark_paid", [statement], apply="1", payment_reference="BANK-1"
    )
    statement.refresh_from_db()
    assert (statement.status, statement.payment_reference, statement.paid_by) == (
        StatementStatus.PAID,
        "BANK-1",
        hq,
    )


def test_statement_csv_export_names_each_rows_statement(hq_client):
    g1, g2 = guide(name="One"), guide(name="Two")
    s1, s2 = statement_with_entry(g1), statement_with_entry(g2)

    response = run_action(hq_client, "/admin/guides/statement/", "export_csv", [s1, s2])

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:5] == ["statement", "party", "for", "period", "status"] and "change" in header
    body = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert {(r["statement"], r["for"]) for r in body} == {(str(s1.pk), g1.code), (str(s2.pk), g2.code)}
    assert all(r["period"] == "2025-03" and r["change"] == "5.00" for r in body)
    assert all(r["note"] == "'=CMD()" for r in body)


def test_compute_rewards_goes_through_the_settlement_and_locks_the_rule(hq_client):
    partner = PartnerFactory(code="p1")
    g = guide(partner=partner)
    CommissionEntry.objects.create(
        kind=EntryKind.ACCRUAL,
        guide=g,
        partner=partner,
        base_amount=D("1000.00"),
        held_change=D("30.00"),
        created_at=datetime(2024, 6, 1, 12, tzinfo=SHANGHAI),
    )
    rule = PartnerRewardRule.objects.create(year=2024, top_n=3, bonus=D("500.00"))

    response = run_action(hq_client, "/admin/guides/partnerrewardrule/", "compute_rewards", [rule])

    assert "1 partner rewarded" in page(response)
    reward = PartnerReward.objects.get(rule=rule)
    assert (reward.partner, reward.rank, reward.entry.payable_change) == (partner, 1, D("500.00"))
    assert (
        hq_client.post(
            f"/admin/guides/partnerrewardrule/{rule.pk}/change/", {"year": 2024, "top_n": 9, "bonus": "1"}
        ).status_code
        == 403
    )


def test_binding_list_shows_fans_with_their_guides(hq_client):
    g = guide(name="Li Na")
    member = MemberFactory(phone="13900001111", name="Fan")
    member_bind(member=member, guide=g)

    text = page(hq_client.get("/admin/guides/binding/", {"q": "13900001111"}))

    assert g.code in text and "Fan" in text
    assert Binding.objects.count() == 1
