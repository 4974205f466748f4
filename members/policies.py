"""Who may see and do what with members and their personal data: pages, API and services ask here.

The actor is `request.user`: a person or an API key's principal (`KeyUser`). docs/security.md has
the table; in short:

| question                         | who                                                             |
|----------------------------------|-----------------------------------------------------------------|
| browse (members_visible_to)      | HQ all; managers, clerks and partners: members whose home store |
|                                  | is one of theirs; a channel key: members of its channel; a      |
|                                  | partner key: members of its stores. Guides and others: nobody.   |
| find by exact mobile / card      | HQ and people who work a store's counter (managers, clerks):    |
| (member_lookup_for)              | anyone, that is how a walk-in is served. Partners and keys:     |
|                                  | only members they may browse. Guides, people without a role: 403.|
| personal data (member_fields_for)| those who serve the member: HQ, their stores' staff, a clerk    |
|                                  | who found them by exact value, their channel's or partner's key. |
| external identities              | people with the personal data: all; a channel key: its own      |
| (identities_visible_to)          | channel's only; a partner key: partner numbers only.            |
| register a member (upsert)       | HQ, managers, clerks, keys (members:write). Not partners.       |
"""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from catalog.choices import ChannelKind
from config.errors import Forbidden
from config.roles import STAFF_ROLES, is_hq, role_names
from integrations.authentication import api_key_of
from members.choices import IdentitySource
from members.errors import InvalidPhone
from members.models import ExternalIdentity, Member, PointsEntry
from members.phones import normalise_phone
from members.sql import seen_on_channel
from stores.policies import stores_served_by, stores_visible_to

# Every field of a member answer that is personal data (docs/security.md): shown only to those who
# serve the member. `id` is never personal; a withheld field answers null (identities: []).
PERSONAL_FIELDS = frozenset(
    {
        "phone",
        "name",
        "gender",
        "birthday",
        "city",
        "tier",
        "tier_name",
        "home_store",
        "home_store_code",
        "home_store_name",
        "marketing_consent",
        "consent_changed_at",
        "consent_channel",
        "points_balance",
        "total_spend",
        "last_purchase_at",
        "identities",
        "created_at",
    }
)

# Identities do not record the channel that linked them, so a channel's key sees the sources that
# belong to its kind of channel. Marketplaces share one kind: a marketplace channel sees the source
# its code names ("tmall", "jd-self" -> jd), so the JD key never learns a Tmall buyer id.
_SOURCES_OF_KIND = {
    ChannelKind.OWN_MALL: frozenset({IdentitySource.OWN_MALL, IdentitySource.WECHAT}),
    ChannelKind.OWN_STORE: frozenset({IdentitySource.STORE_CARD}),
    ChannelKind.PARTNER_STORE: frozenset({IdentitySource.PARTNER}),
    ChannelKind.DEALER: frozenset(),
}
_MARKETPLACE_SOURCES = (IdentitySource.TMALL, IdentitySource.JD)


def members_visible_to(actor) -> QuerySet[Member]:
    """HQ: every member. Store staff and partners: members whose home store is one of theirs.

    A channel's API key: members with an order or points on that channel, or whose consent was
    given through it. An upsert through a key answers with the member it found or made, but does not
    by itself open every other member read to the key (phones are easy to guess; ids are sequential):
    to place an order for a new customer, send `member_phone`. A partner's key: members whose home
    store the partner runs."""
    if not actor.is_authenticated:
        return Member.objects.none()
    live = Member.objects.filter(merged_into__isnull=True)
    if is_hq(actor):
        return live
    key = api_key_of(actor)
    if key is not None:
        if key.partner_id:
            return live.filter(home_store__partner_id=key.partner_id)
        # Orders point at members as `orders` (a later app): its model is reached through that
        # relation, so this base app does not import the orders app. EXISTS per member, not IN: a
        # key asks about one member at a time, on the order intake path.
        order_model = Member._meta.get_field("orders").related_model
        ordered = order_model.objects.filter(member=OuterRef("pk"), channel_id=key.channel_id)
        earned = PointsEntry.objects.filter(member=OuterRef("pk"), channel_id=key.channel_id)
        return live.filter(Q(consent_channel_id=key.channel_id) | Exists(ordered) | Exists(earned))
    if not (STAFF_ROLES & role_names(actor)):  # a guide or an account without a role
        return Member.objects.none()
    return live.filter(home_store__in=stores_visible_to(actor).values("pk"))


def member_visible(actor, member: Member | None) -> bool:
    """Whether `actor` may see this one member: always the answer of
    `members_visible_to(actor).filter(pk=member.pk).exists()`, decided from the row where the row
    says it (HQ; a channel's key and a member who consented through its channel) and otherwise by
    one plain statement for a channel's key - every order and quote by a key for a member asks."""
    if member is None or member.pk is None or not actor.is_authenticated or member.merged_into_id is not None:
        return False
    if is_hq(actor):
        return True
    key = api_key_of(actor)
    if key is not None and not key.partner_id and key.channel_id is not None:
        return member.consent_channel_id == key.channel_id or seen_on_channel(member.pk, key.channel_id)
    return members_visible_to(actor).filter(pk=member.pk).exists()


def member_lookup(query: str) -> Member | None:
    """A live member by exact mobile (any format) or exact external id (card, Tmall/JD, WeChat…).

    Not an access decision: pages, API and search ask `member_lookup_for(actor, query)`."""
    query = (query or "").strip()
    if not query or "\x00" in query:
        return None
    try:
        member = Member.objects.filter(phone=normalise_phone(query)).first()
    except InvalidPhone:
        member = None
    if member is None:
        identity = ExternalIdentity.objects.select_related("member").filter(external_id=query).first()
        member = identity.member if identity else None
    while member is not None and member.merged_into_id:  # a merged duplicate points at its survivor
        member = Member.objects.get(pk=member.merged_into_id)
    return member


def _serves_a_counter(actor) -> bool:
    """A manager or clerk of some store (a guide who is also a clerk counts as the clerk)."""
    cached = getattr(actor, "_serves_a_counter", None)
    if cached is None:
        cached = bool(STAFF_ROLES & role_names(actor)) and stores_served_by(actor).exists()
        actor._serves_a_counter = cached
    return cached


def member_lookup_allowed(actor) -> bool:
    """Who may look a member up by an exact value at all: the people the portal's member pages
    let in (HQ, managers, clerks, partners) and API keys (scoped by members_visible_to)."""
    if not actor.is_authenticated:
        return False
    return is_hq(actor) or api_key_of(actor) is not None or bool(STAFF_ROLES & role_names(actor))


def member_lookup_for(actor, query: str) -> Member | None:
    """The live member behind an exact mobile, card or external id, if the actor may find them.

    HQ and counter staff find anyone (a walk-in from another store); partners and keys only the
    members they may browse. Anyone else is refused (403), whatever the query."""
    if not member_lookup_allowed(actor):
        raise Forbidden(_("Only HQ, store staff and partners may look members up."))
    member = member_lookup(query)
    if member is None or is_hq(actor) or (api_key_of(actor) is None and _serves_a_counter(actor)):
        return member
    return members_visible_to(actor).filter(pk=member.pk).first()


@dataclass(frozen=True)
class MemberFields:
    """What of one member an actor is shown: the personal data or not, and which identities."""

    personal: bool
    identity_sources: frozenset | None  # None: every source

    def shows(self, field: str) -> bool:
        return self.personal or field not in PERSONAL_FIELDS


NOTHING = MemberFields(personal=False, identity_sources=frozenset())
EVERYTHING = MemberFields(personal=True, identity_sources=None)


def _visible_store_ids(actor) -> frozenset[int]:
    cached = getattr(actor, "_member_store_ids", None)
    if cached is None:
        cached = frozenset(stores_visible_to(actor).values_list("pk", flat=True))
        actor._member_store_ids = cached
    return cached


def key_identity_sources(key) -> frozenset:
    """The identity sources an API key's own channel (or partner) knows members by."""
    if key.partner_id:
        return frozenset({IdentitySource.PARTNER})
    channel = key.channel
    if channel is None:
        return frozenset()
    if channel.kind == ChannelKind.MARKETPLACE:
        code = channel.code.lower()
        return frozenset(source for source in _MARKETPLACE_SOURCES if source.value in code)
    return _SOURCES_OF_KIND.get(channel.kind, frozenset())


def member_fields_for(actor, member: Member, *, found_by_lookup: bool = False) -> MemberFields:
    """The one decision on a member's personal data, for every answer that shows a member.

    HQ: everything. Managers and clerks: members of their stores, or one they found by an exact
    mobile or card (`found_by_lookup`: serving a walk-in). Partners: members of their stores. A
    channel key: members of its channel, with its own channel's identities only; a partner key:
    members of its stores, with partner numbers only. Anyone else: the id alone."""
    if not actor.is_authenticated:
        return NOTHING
    if is_hq(actor):
        return EVERYTHING
    key = api_key_of(actor)
    if key is not None:
        if not member_visible(actor, member):
            return NOTHING
        return MemberFields(personal=True, identity_sources=key_identity_sources(key))
    if not (STAFF_ROLES & role_names(actor)):
        return NOTHING
    if member.home_store_id is not None and member.home_store_id in _visible_store_ids(actor):
        return EVERYTHING
    if found_by_lookup and _serves_a_counter(actor):
        return EVERYTHING
    return NOTHING


def identities_visible_to(actor, member: Member, *, found_by_lookup: bool = False) -> list[ExternalIdentity]:
    """The member's external identities the actor may see (uses a prefetched `identities`)."""
    fields = member_fields_for(actor, member, found_by_lookup=found_by_lookup)
    return fields_identities(fields, member)


def fields_identities(fields: MemberFields, member: Member) -> list[ExternalIdentity]:
    """The identities a decision lets through, from the member's (prefetched) identities."""
    if not fields.personal:
        return []
    identities = list(member.identities.all())
    if fields.identity_sources is None:
        return identities
    return [identity for identity in identities if identity.source in fields.identity_sources]


def member_registrable_by(actor) -> bool:
    """Register a member, earn or redeem points: HQ, managers and clerks, keys (members:write,
    checked by the key's scopes). Partners read their stores' members but do not register."""
    if not actor.is_authenticated:
        return False
    return is_hq(actor) or api_key_of(actor) is not None or _serves_a_counter(actor)


def member_register_require(actor) -> None:
    if not member_registrable_by(actor):
        raise Forbidden(_("Only HQ and store staff may register members and move their points."))
