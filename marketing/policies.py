"""Who may do what with marketing and wallets (docs/security.md has the table):

| question                                   | who                                                   |
|--------------------------------------------|-------------------------------------------------------|
| promotions, coupons, campaigns, the rates  | HQ only (a guide, clerk, partner or key: 403)          |
| see a member's coupons and wallet          | whoever may see that member's personal data           |
|                                            | (members.policies.member_fields_for)                   |
| give a member a code                       | HQ; a store's managers and clerks at their store (the  |
|                                            | clerk's tablet); an active guide to their own fans;    |
|                                            | the product (a customer's own QR claim, a campaign)    |
| top up a wallet                            | HQ and a store's managers and clerks (money taken at   |
|                                            | the counter); keys with members:write for members they |
|                                            | may see                                                |
"""

from django.utils.translation import gettext as _

from config.errors import Forbidden
from config.roles import is_hq
from integrations.authentication import api_key_of
from members.policies import member_fields_for, member_visible
from stores.policies import person_of, stores_served_by

__all__ = ["person_of"]


def marketing_managed_by(actor) -> bool:
    """Promotions, coupon definitions, campaigns and the points rate: HQ only."""
    return bool(actor.is_authenticated and is_hq(actor))


def marketing_require(actor) -> None:
    if not marketing_managed_by(actor):
        raise Forbidden(_("Only HQ sets promotions, coupons, campaigns and the points rate."))


def wallet_visible_to(actor, member) -> bool:
    """A member's coupons, points and stored value are personal data: those who serve them."""
    return bool(member is not None and member_fields_for(actor, member).personal)


def code_giver_require(actor, *, member, store=None, guide=None) -> None:
    """May the actor give this member a code (at `store`, or as `guide`)?"""
    if is_hq(actor):
        return
    if store is not None and stores_served_by(actor).filter(pk=store.pk).exists():
        return
    if guide is not None and getattr(guide, "user_id", None) == getattr(actor, "pk", -1):
        return
    raise Forbidden(_("You may not give coupons here."))


def wallet_topup_require(actor, member) -> None:
    if is_hq(actor) or stores_served_by(actor).exists():
        return
    key = api_key_of(actor)
    if key is not None and "members:write" in key.scopes and member_visible(actor, member):
        return
    raise Forbidden(_("You may not top up this member's wallet."))
