"""Issue 14: guides.policies decides who sees guides, fans, ledger and statements and who approves
and pays (HQ people only), for pages, API, admin and services alike; a guide sees their own fans
with name and masked mobile only; an open binding answers `end_reason: null`, as the published
schema says (defect 7: it answered "", outside the schema's enum)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from guides.choices import StatementStatus
from guides.commission import commission_rule_set
from guides.models import CommissionRule
from guides.policies import commission_rules_managed_by, statement_actionable_by
from guides.services import member_bind
from guides.settlement import StatementForbidden, statement_approve
from tests.contract.test_examples import validator
from tests.guides.test_api import Scene, post, results
from tests.helpers import login

pytestmark = pytest.mark.django_db

MEMBER_FIELDS = {"id", "member", "member_name", "member_phone", "guide", "store", "started_at",
                 "last_scan_at", "ends_at", "scan_count", "ended_at", "end_reason"}  # fmt: skip


@pytest.fixture
def scene(db):
    return Scene()


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_open_and_ended_bindings_are_valid_against_the_published_schema(scene, schema):
    member_bind(member=scene.bindings[scene.g3].member, guide=scene.g1)  # g3's fan taken over
    binding = validator(schema, {"$ref": "#/components/schemas/Binding"})
    rows = results(login(scene.hq).get("/api/v1/bindings/"))
    assert len(rows) == 4
    for row in rows:
        errors = [error.message for error in binding.iter_errors(row)]
        assert not errors, (row, errors)
    by_guide = {row["guide"]: row for row in rows if row["guide"] != scene.g1.code}
    assert by_guide[scene.g2.code]["end_reason"] is None and by_guide[scene.g2.code]["ended_at"] is None
    assert by_guide[scene.g3.code]["end_reason"] == "rebound"


def test_the_schema_says_end_reason_is_nullable(schema):
    field = schema["components"]["schemas"]["Binding"]["properties"]["end_reason"]
    assert field.get("nullable") is True or any(
        part.get("$ref", "").endswith("NullEnum") for part in field.get("oneOf", [])
    ), field


def test_a_guide_sees_their_fans_name_and_masked_mobile_and_nothing_else(scene):
    rows = results(login(scene.u1).get("/api/v1/bindings/"))
    assert len(rows) == 1 and set(rows[0]) == MEMBER_FIELDS
    member = scene.bindings[scene.g1].member
    assert rows[0]["member_name"] == member.name and rows[0]["member_phone"] == "138****8000"
    body = str(rows)
    assert member.phone not in body and str(member.birthday or "no birthday") not in body


def test_approving_and_paying_is_hq_s_alone_on_api_and_in_the_service(scene):
    statement = scene.statements[scene.p1]
    for user in (scene.pu1, scene.u1):
        response = post(login(user), f"/api/v1/statements/{scene.statements[scene.g1].pk}/approve/")
        assert response.status_code in (403, 404)
        assert not statement_actionable_by(user, statement, "approve")
        with pytest.raises(StatementForbidden):
            statement_approve(statement=statement, user=user)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DRAFT
    assert statement_actionable_by(scene.pu1, statement, "see")
    assert statement_actionable_by(scene.hq, statement, "approve")


def test_commission_rules_are_hq_s_alone_in_the_service(scene):
    assert commission_rules_managed_by(scene.hq) and not commission_rules_managed_by(scene.pu1)
    with pytest.raises(Exception, match="Only HQ"):
        commission_rule_set(rate_percent=5, fixed_per_unit=0, actor=scene.pu1)
    assert not CommissionRule.objects.filter(rate_percent=5).exists()


@pytest.mark.parametrize(
    ("url", "body", "unknown"),
    [
        ("/api/v1/commission-rules/", {"rate_percent": "5.00", "rate_percnet": "6"}, "rate_percnet"),
        ("/api/v1/statements/{pk}/pay/", {"payment_reference": "TX1", "amount": "1"}, "amount"),
    ],
)
def test_guides_api_writes_refuse_unknown_fields(scene, url, body, unknown):
    """Issue 14, defect 9, for the guides API: a typo is a 400 naming it, nothing written."""
    response = post(login(scene.hq), url.format(pk=scene.statements[scene.p1].pk), body)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {unknown}
    assert not CommissionRule.objects.exists()
    assert scene.statements[scene.p1].status == StatementStatus.DRAFT


def test_a_partner_sees_its_guides_fans_without_their_names(scene):
    """docs/security.md: a partner sees members' personal data only when their home store is one of
    the partner's; its guides' fans are otherwise ids and masked mobiles."""
    rows = results(login(scene.pu1).get("/api/v1/bindings/"))
    assert len(rows) == 2 and all(row["member_name"] is None for row in rows)
    assert all("****" in row["member_phone"] for row in rows)
