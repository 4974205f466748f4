"""/api/v1/ for guides: the public card by code, binding by scan for the brand's app (201 / 400 /
409 with the database checked), guides, fans, ledger and statements scoped to exactly the caller's
own data (foreign ids are 404), statement approval and payout for HQ only, the statement CSV and
commission rules (HQ reads and starts them), all in the one error shape."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from drf_spectacular.drainage import GENERATOR_STATS

from config.roles import SYSTEM
from guides.choices import BindingEnd, EntryKind, GuideStatus, ScanOutcome, StatementParty, StatementStatus
from guides.models import Binding, CommissionEntry, CommissionRule, CommissionRuleChange, ScanEvent, Statement
from guides.services import guide_register, guide_suspend, member_bind
from members.models import Member
from tests.factories import (
    CategoryFactory,
    GuideLevelFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    hq_user,
    partner_user,
)
from tests.helpers import assert_error, login

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


# --- helpers ----------------------------------------------------------------------------------


def post(client, url, data=None, **kwargs):
    return client.post(url, data or {}, content_type="application/json", **kwargs)


def sh(year, month, day, hour=12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


class Scene:
    """Two partners, each with a store and guides with logins; a fan, a ledger row and a statement
    for every guide and a statement for every partner."""

    def __init__(self):
        self.p1 = PartnerFactory(code="p1")
        self.p2 = PartnerFactory(code="p2")
        self.s1 = StoreFactory(code="S1", name="Store One", partner=self.p1)
        self.s2 = StoreFactory(code="S2", partner=self.p2)
        self.senior = GuideLevelFactory(code="senior", name="Senior")
        self.u1, self.u2, self.u3 = UserFactory(), UserFactory(), UserFactory()
        self.g1 = guide_register(
            user=self.u1, name="Li Na", store=self.s1, partner=self.p1, level=self.senior
        )
        self.g2 = guide_register(user=self.u2, name="Wang Wei", partner=self.p1)  # same partner, not a store
        self.g3 = guide_register(user=self.u3, name="Zhao Lei", store=self.s2)  # partner 2 via the store
        self.pu1 = partner_user(self.p1)
        self.pu2 = partner_user(self.p2)
        self.hq = hq_user()
        self.bindings = {}
        self.entries = {}
        self.statements = {}
        for n, guide in enumerate((self.g1, self.g2, self.g3)):
            member = MemberFactory(phone=f"1380013800{n}")
            self.bindings[guide] = member_bind(member=member, guide=guide)
            partner = self.p2 if guide is self.g3 else self.p1
            statement = Statement.objects.create(
                party=StatementParty.GUIDE,
                guide=guide,
                period=date(2025, 3, 1),
                total=D("12.50"),
                entry_count=1,
            )
            self.statements[guide] = statement
            self.entries[guide] = CommissionEntry.objects.create(
                kind=EntryKind.RELEASE,
                guide=guide,
                partner=partner,
                store=guide.store,
                base_amount=D("250.00"),
                payable_change=D("12.50"),
                statement=statement,
                note="=HYPERLINK(1)" if guide is self.g1 else "",
                created_at=sh(2025, 3, 10),
            )
        for partner in (self.p1, self.p2):
            self.statements[partner] = Statement.objects.create(
                party=StatementParty.PARTNER, partner=partner, period=date(2025, 3, 1), entry_count=1
            )
        # A partner reward row: the partner's own, no guide.
        self.reward = CommissionEntry.objects.create(
            kind=EntryKind.REWARD, partner=self.p1, payable_change=D("100.00"), created_at=sh(2025, 4, 2)
        )


@pytest.fixture
def scene(db):
    return Scene()


# --- lookup by code ---------------------------------------------------------------------------


def test_lookup_gives_an_active_guides_public_card_in_any_case(scene):
    client = login(UserFactory())  # any logged-in client: the brand's app

    response = client.get("/api/v1/guides/lookup/", {"code": f"  {scene.g1.code.lower()} "})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "code": scene.g1.code,
        "name": "Li Na",
        "store_code": "S1",
        "store_name": "Store One",
        "level": "Senior",
    }


def test_lookup_of_an_unknown_or_suspended_code_is_a_404_and_anonymous_is_a_403(scene):
    client = login(UserFactory())
    guide_suspend(guide=scene.g2, reason="Spamming fans", actor=SYSTEM)

    assert_error(client.get("/api/v1/guides/lookup/", {"code": "NOSUCH22"}), 404, "not_found", "code")
    assert_error(client.get("/api/v1/guides/lookup/", {"code": scene.g2.code}), 404, "not_found", "code")
    assert_error(client.get("/api/v1/guides/lookup/"), 400, "invalid", "code")
    assert Client().get("/api/v1/guides/lookup/", {"code": scene.g1.code}).status_code == 403


# --- binding by scan --------------------------------------------------------------------------


def scan(client, guide, phone, **extra):
    url = f"/api/v1/guides/{guide.code}/scans/"
    return post(client, url, {"phone": phone, **extra}, headers={"User-Agent": "LeTV-MiniProgram/2.1"})


def test_scan_binds_a_new_customer_and_records_the_scan_with_the_user_agent(scene):
    client = login(clerk_at(StoreFactory()))  # store staff, any store

    response = scan(client, scene.g1, "+86 139 0000 1111", name="Chen Jing")

    assert response.status_code == 201, response.content
    body = response.json()
    member = Member.objects.get(phone="13900001111")
    binding = Binding.objects.get(member=member)
    assert binding.guide == scene.g1 and binding.ended_at is None and binding.store == scene.s1
    assert body["binding"] == binding.pk and body["member"] == member.pk
    assert body["guide"] == scene.g1.code and body["outcome"] == ScanOutcome.BOUND
    assert body["scan_count"] == 1 and body["ends_at"]
    event = ScanEvent.objects.get(pk=body["scan"])
    assert (event.guide, event.member, event.outcome) == (scene.g1, member, ScanOutcome.BOUND)
    assert event.user_agent == "LeTV-MiniProgram/2.1"
    assert member.name == "Chen Jing"


def test_a_rescan_extends_and_another_guides_scan_takes_the_fan_over(scene):
    client = login(clerk_at(StoreFactory()))  # store staff, any store
    first = scan(client, scene.g1, "13900001111").json()

    again = scan(client, scene.g1, "139 0000 1111")
    assert again.status_code == 201
    assert again.json()["outcome"] == ScanOutcome.EXTENDED and again.json()["binding"] == first["binding"]
    assert again.json()["scan_count"] == 2

    other = scan(client, scene.g3, "13900001111")
    assert other.status_code == 201
    assert other.json()["outcome"] == ScanOutcome.REBOUND
    old = Binding.objects.get(pk=first["binding"])
    assert old.ended_at is not None and old.end_reason == BindingEnd.REBOUND
    assert old.ended_by_id == other.json()["binding"]
    assert Binding.objects.filter(member__phone="13900001111", ended_at__isnull=True).count() == 1


def test_scan_with_a_bad_mobile_is_a_400_and_writes_nothing(scene):
    client = login(clerk_at(StoreFactory()))  # store staff, any store
    before = (ScanEvent.objects.count(), Member.objects.count(), Binding.objects.count())

    assert_error(scan(client, scene.g1, "12345"), 400, "invalid_phone", "phone")
    assert_error(post(client, f"/api/v1/guides/{scene.g1.code}/scans/", {}), 400, "invalid", "phone")

    assert (ScanEvent.objects.count(), Member.objects.count(), Binding.objects.count()) == before


def test_scan_of_a_suspended_guide_is_a_409_and_binds_nobody(scene):
    client = login(clerk_at(StoreFactory()))  # store staff, any store
    guide_suspend(guide=scene.g2, reason="Fake fans", actor=SYSTEM)
    bindings = Binding.objects.count()

    assert_error(scan(client, scene.g2, "13900002222"), 409, "guide_suspended")

    assert Binding.objects.count() == bindings
    assert not Binding.objects.filter(member__phone="13900002222").exists()
    event = ScanEvent.objects.get(guide=scene.g2, member__phone="13900002222")
    assert event.outcome == ScanOutcome.SUSPENDED


def test_scan_of_an_unknown_code_is_a_404(scene):
    response = post(
        login(clerk_at(StoreFactory())), "/api/v1/guides/NOSUCH22/scans/", {"phone": "13900001111"}
    )
    assert_error(response, 404, "not_found")
    assert not Member.objects.filter(phone="13900001111").exists()


# --- scoping: each party's reads cover exactly their own data ---------------------------------


def codes(response) -> set[str]:
    return {row["code"] for row in results(response)}


def test_guides_list_and_detail_are_scoped(scene):
    g1, g2, g3 = scene.g1.code, scene.g2.code, scene.g3.code
    assert codes(login(scene.u1).get("/api/v1/guides/")) == {g1}
    assert codes(login(scene.pu1).get("/api/v1/guides/")) == {g1, g2}
    assert codes(login(scene.pu2).get("/api/v1/guides/")) == {g3}
    assert codes(login(scene.hq).get("/api/v1/guides/")) == {g1, g2, g3}
    assert codes(login(clerk_at(scene.s1)).get("/api/v1/guides/")) == set()

    guide = login(scene.u1)
    assert guide.get(f"/api/v1/guides/{g1}/").json()["store"] == "S1"
    assert_error(guide.get(f"/api/v1/guides/{g2}/"), 404, "not_found")
    assert_error(login(scene.pu1).get(f"/api/v1/guides/{g3}/"), 404, "not_found")
    assert_error(login(scene.pu2).get(f"/api/v1/guides/{g1}/"), 404, "not_found")


def test_fans_are_scoped_and_masked_except_for_hq(scene):
    b1, b2, b3 = (scene.bindings[g] for g in (scene.g1, scene.g2, scene.g3))

    rows = results(login(scene.u1).get("/api/v1/bindings/"))
    assert [r["id"] for r in rows] == [b1.pk]
    assert rows[0]["member_phone"] == "138****8000" and rows[0]["guide"] == scene.g1.code
    assert {r["id"] for r in results(login(scene.pu1).get("/api/v1/bindings/"))} == {b1.pk, b2.pk}
    assert {r["id"] for r in results(login(scene.pu2).get("/api/v1/bindings/"))} == {b3.pk}
    hq_rows = results(login(scene.hq).get("/api/v1/bindings/", {"guide": scene.g3.code}))
    assert [(r["id"], r["member_phone"]) for r in hq_rows] == [(b3.pk, "13800138002")]

    assert_error(login(scene.u1).get(f"/api/v1/bindings/{b2.pk}/"), 404, "not_found")
    assert_error(login(scene.pu1).get(f"/api/v1/bindings/{b3.pk}/"), 404, "not_found")
    assert login(scene.pu1).get(f"/api/v1/bindings/{b2.pk}/").json()["id"] == b2.pk


def test_ledger_is_scoped_and_filtered_by_kind_and_china_dates(scene):
    e1, e2, e3 = (scene.entries[g] for g in (scene.g1, scene.g2, scene.g3))

    assert [r["id"] for r in results(login(scene.u1).get("/api/v1/commission-entries/"))] == [e1.pk]
    partner_rows = results(login(scene.pu1).get("/api/v1/commission-entries/"))
    assert {r["id"] for r in partner_rows} == {e1.pk, e2.pk, scene.reward.pk}
    assert {r["id"] for r in results(login(scene.pu2).get("/api/v1/commission-entries/"))} == {e3.pk}
    assert_error(login(scene.u1).get(f"/api/v1/commission-entries/{e2.pk}/"), 404, "not_found")
    assert_error(login(scene.pu2).get(f"/api/v1/commission-entries/{scene.reward.pk}/"), 404, "not_found")

    partner = login(scene.pu1)
    rewards = results(partner.get("/api/v1/commission-entries/", {"kind": "reward"}))
    assert [r["id"] for r in rewards] == [scene.reward.pk]
    # 2025-03-10 12:00 in Shanghai: inside from=to=that day, outside the day after.
    march = results(partner.get("/api/v1/commission-entries/", {"from": "2025-03-10", "to": "2025-03-10"}))
    assert {r["id"] for r in march} == {e1.pk, e2.pk}
    assert (
        results(partner.get("/api/v1/commission-entries/", {"from": "2025-03-11", "to": "2025-03-31"})) == []
    )
    assert {r["id"] for r in results(partner.get("/api/v1/commission-entries/", {"from": "2025-04-02"}))} == {
        scene.reward.pk
    }


def test_statements_are_scoped(scene):
    st = scene.statements
    own = {r["id"] for r in results(login(scene.u1).get("/api/v1/statements/"))}
    assert own == {st[scene.g1].pk}
    partner = {r["id"] for r in results(login(scene.pu1).get("/api/v1/statements/"))}
    assert partner == {st[scene.g1].pk, st[scene.g2].pk, st[scene.p1].pk}
    assert {r["id"] for r in results(login(scene.pu2).get("/api/v1/statements/"))} == {
        st[scene.g3].pk,
        st[scene.p2].pk,
    }
    assert_error(login(scene.u1).get(f"/api/v1/statements/{st[scene.g2].pk}/"), 404, "not_found")
    assert_error(login(scene.pu1).get(f"/api/v1/statements/{st[scene.p2].pk}/"), 404, "not_found")
    assert_error(login(scene.pu2).get(f"/api/v1/statements/{st[scene.g1].pk}/csv/"), 404, "not_found")
    assert login(scene.u1).get(f"/api/v1/statements/{st[scene.g1].pk}/").json()["guide"] == scene.g1.code


def test_lists_take_a_constant_number_of_queries(scene):
    client = login(scene.hq)
    urls = ("/api/v1/guides/", "/api/v1/bindings/", "/api/v1/commission-entries/", "/api/v1/statements/")

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            result.append(len(ctx.captured_queries))
        return result

    few = counts()
    for n in range(6):
        guide = guide_register(user=None, name=f"Fan {n}", store=scene.s1, partner=scene.p1)
        member_bind(member=MemberFactory(), guide=guide)
        statement = Statement.objects.create(party=StatementParty.GUIDE, guide=guide, period=date(2025, 3, 1))
        CommissionEntry.objects.create(
            kind=EntryKind.RELEASE,
            guide=guide,
            partner=scene.p1,
            store=scene.s1,
            payable_change=D("1.00"),
            statement=statement,
            created_at=sh(2025, 3, 11),
        )
    assert counts() == few


# --- the statement CSV ------------------------------------------------------------------------


def test_statement_csv_lists_its_entries_with_formulas_defused(scene):
    statement = scene.statements[scene.g1]

    response = login(scene.u1).get(f"/api/v1/statements/{statement.pk}/csv/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"statement-{scene.g1.code}-2025-03-{statement.pk}.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["date", "kind"] and "change" in header and "note" in header
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert row["date"] == "2025-03-10" and row["change"] == "12.50"
    assert row["note"] == "'=HYPERLINK(1)"


def test_statement_csv_of_a_statement_without_entries_has_only_the_header(scene):
    response = login(scene.pu1).get(f"/api/v1/statements/{scene.statements[scene.p1].pk}/csv/")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) == 1 and rows[0][0] == "date"


# --- approve and pay: HQ only, illegal moves are 409 -------------------------------------------


def test_only_hq_approves_and_pays_statements(scene):
    statement = scene.statements[scene.g1]
    for user in (scene.u1, scene.pu1, clerk_at(scene.s1)):
        client = login(user)
        assert_error(post(client, f"/api/v1/statements/{statement.pk}/approve/"), 403, "permission_denied")
        assert_error(
            post(client, f"/api/v1/statements/{statement.pk}/pay/", {"payment_reference": "X"}),
            403,
            "permission_denied",
        )
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DRAFT and statement.approved_by is None


def test_hq_approves_then_pays_and_illegal_moves_are_409(scene):
    statement = scene.statements[scene.g1]
    client = login(scene.hq)
    url = f"/api/v1/statements/{statement.pk}"

    assert_error(post(client, f"{url}/pay/", {"payment_reference": "BANK-1"}), 409, "illegal_transition")
    response = post(client, f"{url}/approve/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == StatementStatus.APPROVED
    statement.refresh_from_db()
    assert statement.status == StatementStatus.APPROVED and statement.approved_by == scene.hq
    assert_error(post(client, f"{url}/approve/"), 409, "illegal_transition")

    assert_error(post(client, f"{url}/pay/", {}), 400, "invalid", "payment_reference")
    response = post(client, f"{url}/pay/", {"payment_reference": "BANK-1"})
    assert response.status_code == 200, response.content
    statement.refresh_from_db()
    assert (statement.status, statement.payment_reference, statement.paid_by) == (
        StatementStatus.PAID,
        "BANK-1",
        scene.hq,
    )
    assert_error(post(client, f"{url}/pay/", {"payment_reference": "BANK-2"}), 409, "illegal_transition")
    statement.refresh_from_db()
    assert statement.payment_reference == "BANK-1"


# --- commission rules -------------------------------------------------------------------------


def test_only_hq_reads_and_starts_commission_rules(scene):
    body = {"rate_percent": "4.50"}
    for user in (scene.u1, scene.pu1):
        client = login(user)
        assert_error(client.get("/api/v1/commission-rules/"), 403, "permission_denied")
        assert_error(post(client, "/api/v1/commission-rules/", body), 403, "permission_denied")
    assert not CommissionRule.objects.exists()

    client = login(scene.hq)
    tv = CategoryFactory(code="tv")
    response = post(client, "/api/v1/commission-rules/", {**body, "category": "tv", "level": "senior"})

    assert response.status_code == 201, response.content
    rule = CommissionRule.objects.get()
    assert (rule.rate_percent, rule.category, rule.level, rule.channel) == (D("4.50"), tv, scene.senior, None)
    assert rule.created_by == scene.hq and rule.valid_to is None
    assert response.json()["category"] == "tv" and response.json()["level"] == "senior"
    change = CommissionRuleChange.objects.get(rule=rule)
    assert change.action == "started" and change.changed_by == scene.hq
    listed = results(client.get("/api/v1/commission-rules/"))
    assert [r["id"] for r in listed] == [rule.pk]


def test_a_new_rule_for_the_same_key_ends_the_old_one_and_bad_input_is_a_400(scene):
    client = login(scene.hq)
    first = post(client, "/api/v1/commission-rules/", {"rate_percent": "3"}).json()
    second = post(client, "/api/v1/commission-rules/", {"rate_percent": "3.5"})
    assert second.status_code == 201
    assert CommissionRule.objects.get(pk=first["id"]).valid_to is not None
    assert CommissionRuleChange.objects.filter(rule_id=first["id"], action="ended").exists()

    too_high = post(client, "/api/v1/commission-rules/", {"rate_percent": "120"})
    assert_error(too_high, 400, "commission_rule_refused", "rate_percent")
    assert_error(
        post(client, "/api/v1/commission-rules/", {"rate_percent": "abc"}), 400, "invalid", "rate_percent"
    )
    assert_error(
        post(client, "/api/v1/commission-rules/", {"rate_percent": "3", "channel": "nope"}), 400, "invalid"
    )
    assert CommissionRule.objects.count() == 2


def test_suspended_guide_still_shows_to_themselves_with_the_reason(scene):
    guide_suspend(guide=scene.g1, reason="Fake fans", actor=SYSTEM)
    row = login(scene.u1).get(f"/api/v1/guides/{scene.g1.code}/").json()
    assert row["status"] == GuideStatus.SUSPENDED and row["suspended_reason"] == "Fake fans"


# --- schema -----------------------------------------------------------------------------------


def test_schema_documents_the_guides_paths_and_their_errors(client, db):
    GENERATOR_STATS.reset()
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]

    for path in (
        "/api/v1/guides/",
        "/api/v1/guides/lookup/",
        "/api/v1/guides/{code}/",
        "/api/v1/guides/{code}/scans/",
        "/api/v1/bindings/",
        "/api/v1/commission-entries/",
        "/api/v1/statements/{id}/csv/",
        "/api/v1/statements/{id}/approve/",
        "/api/v1/statements/{id}/pay/",
        "/api/v1/commission-rules/",
    ):
        assert path in paths, path
    error = {"$ref": "#/components/schemas/Error"}
    scans = paths["/api/v1/guides/{code}/scans/"]["post"]["responses"]
    assert {"201", "400", "404", "409"} <= set(scans)
    assert scans["409"]["content"]["application/json"]["schema"] == error
    params = {p["name"] for p in paths["/api/v1/commission-entries/"]["get"]["parameters"]}
    assert {"kind", "guide", "partner", "from", "to"} <= params
    warnings = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    assert not [w for w in warnings if "guides" in str(w).lower()], warnings
