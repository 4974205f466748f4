"""Who may see and do what with guides, their fans, scans, attributed orders, commission
entries and statements. Pages, API, admin and services all ask here.

Visibility (the `*_visible_to(actor)` functions):
- HQ sees everything;
- a guide sees only their own guide and what hangs off it (their fans with name and masked
  mobile only: anyone may sign up as a guide, so a guide is a stranger to everything else);
- a partner user (or a partner's key) sees the guides of their partner (directly, or through a
  store the partner runs) and what hangs off them, plus their partner's own entries and statements;
- anyone else (a clerk or manager who is not a guide, a channel's key) sees nothing.
A user can be several of these at once (a partner who is also a guide): the sets are joined.
Scoping is done with subqueries (`IN (SELECT ...)`), never joins, so rows are never duplicated.

Actions: approving and paying statements, and starting or ending commission rules, are HQ's
alone (people, never a key): `statement_actionable_by`, `statement_require`,
`commission_rules_managed_by`.
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from config.errors import Forbidden, NotFound
from config.roles import is_hq
from guides.models import Binding, CommissionEntry, Guide, ScanEvent, Statement
from integrations.authentication import api_key_of
from members.policies import member_fields_for
from orders.models import Order
from stores.models import Partner, Store
from stores.policies import stores_visible_to

STATEMENT_ACTIONS = ("see", "approve", "pay")


def partners_of_user(user) -> QuerySet[Partner]:
    """The partners the user logs in for."""
    if not user.is_authenticated:
        return Partner.objects.none()
    key = api_key_of(user)
    if key is not None:  # a partner's key speaks for its partner; a channel's for none
        return Partner.objects.filter(pk=key.partner_id)
    return Partner.objects.filter(users=user)


def _partner_ids(user):
    return partners_of_user(user).values("pk")


def guides_visible_to(user) -> QuerySet[Guide]:
    """HQ: all. Guide: themselves. Partner: guides whose partner, or whose store's partner, is theirs."""
    if not user.is_authenticated:
        return Guide.objects.none()
    if is_hq(user):
        return Guide.objects.all()
    partners = _partner_ids(user)
    if api_key_of(user) is not None:  # a partner's key: its guides; a channel's key: none
        return Guide.objects.filter(
            Q(partner__in=partners) | Q(store__in=Store.objects.filter(partner__in=partners).values("pk"))
        )
    return Guide.objects.filter(
        Q(user=user)
        | Q(partner__in=partners)
        | Q(store__in=Store.objects.filter(partner__in=partners).values("pk"))
    )


def _visible_guide_ids(user):
    return guides_visible_to(user).values("pk")


def bindings_visible_to(user) -> QuerySet[Binding]:
    """Bindings (fans) of the guides the user may see."""
    if not user.is_authenticated:
        return Binding.objects.none()
    if is_hq(user):
        return Binding.objects.all()
    return Binding.objects.filter(guide__in=_visible_guide_ids(user))


def scans_visible_to(user) -> QuerySet[ScanEvent]:
    """Scans of the visible guides' codes; a partner also sees scans of their stores' own codes."""
    if not user.is_authenticated:
        return ScanEvent.objects.none()
    if is_hq(user):
        return ScanEvent.objects.all()
    stores = Store.objects.filter(partner__in=_partner_ids(user)).values("pk")
    return ScanEvent.objects.filter(
        Q(guide__in=_visible_guide_ids(user)) | Q(guide__isnull=True, store__in=stores)
    )


def attributed_orders_visible_to(user) -> QuerySet[Order]:
    """Orders attributed to a guide the user may see."""
    if not user.is_authenticated:
        return Order.objects.none()
    if is_hq(user):
        return Order.objects.filter(guide__isnull=False)
    return Order.objects.filter(guide__in=_visible_guide_ids(user))


def entries_visible_to(user) -> QuerySet[CommissionEntry]:
    """Commission ledger rows: a guide's own; a partner's (stamped with their partner); HQ all."""
    if not user.is_authenticated:
        return CommissionEntry.objects.none()
    if is_hq(user):
        return CommissionEntry.objects.all()
    if api_key_of(user) is not None:  # a partner's key: entries stamped with its partner
        return CommissionEntry.objects.filter(partner__in=_partner_ids(user))
    own = Guide.objects.filter(user=user).values("pk")
    return CommissionEntry.objects.filter(Q(guide__in=own) | Q(partner__in=_partner_ids(user)))


def statements_visible_to(user) -> QuerySet[Statement]:
    """A guide's own statements; a partner's statements and their guides' statements; HQ all."""
    if not user.is_authenticated:
        return Statement.objects.none()
    if is_hq(user):
        return Statement.objects.all()
    return Statement.objects.filter(Q(guide__in=_visible_guide_ids(user)) | Q(partner__in=_partner_ids(user)))


def fan_name_visible_to(actor, binding: Binding) -> bool:
    """A fan's name: to their own guide (who met them), and to whoever members.policies shows
    the member's personal data (HQ, their home store's staff and partner); a partner does not
    learn the names of its guides' fans from elsewhere."""
    if actor is None or not actor.is_authenticated:
        return False
    if is_hq(actor) or (api_key_of(actor) is None and binding.guide.user_id == actor.pk):
        return True
    if api_key_of(actor) is not None:  # a partner's key: members of its stores (no query per row)
        stores = getattr(actor, "_fan_store_ids", None)
        if stores is None:
            stores = actor._fan_store_ids = frozenset(stores_visible_to(actor).values_list("pk", flat=True))
        return binding.member.home_store_id in stores
    return member_fields_for(actor, binding.member).shows("name")


def fan_phone_shown_in_full(actor) -> bool:
    """A fan's mobile in full: HQ only; guides and partners see it masked (138****5678)."""
    return actor is not None and is_hq(actor)


def guides_managed_by(actor) -> bool:
    """May suspend and reinstate guides and set attribution windows: HQ people only."""
    return actor is not None and is_hq(actor) and api_key_of(actor) is None


def commission_rules_managed_by(actor) -> bool:
    """May start, end and read commission rules, approve and pay statements: HQ people only."""
    return actor is not None and is_hq(actor) and api_key_of(actor) is None


def statement_actionable_by(actor, statement: Statement | None, action: str) -> bool:
    """May the actor do `action` ("see", "approve", "pay") with this statement?"""
    if action not in STATEMENT_ACTIONS:
        raise ValueError(f"unknown statement action {action!r}")
    if statement is None or actor is None or not actor.is_authenticated:
        return False
    if action != "see":
        return commission_rules_managed_by(actor)
    return is_hq(actor) or statements_visible_to(actor).filter(pk=statement.pk).exists()


def statement_require(actor, statement: Statement | None, action: str) -> Statement:
    """The statement, if the actor may do `action`; else a 404 (cannot see it) or a 403."""
    if statement_actionable_by(actor, statement, action):
        return statement
    if statement is not None and action != "see" and statement_actionable_by(actor, statement, "see"):
        raise Forbidden(_("Only HQ approves and pays statements."))
    raise NotFound(_("Statement not found."))
