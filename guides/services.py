"""Every write about guides, scans and bindings; and the attribution of an order to a guide.

(Commission rules and the ledger are in guides/commission.py; statements in guides/settlement.py.)

The binding rules, in one place:

- A scan of a guide's code by a member binds the member to that guide ("fan").
- Last scan wins: a scan of ANOTHER guide's code ends the member's open binding (ended_at = the
  scan, end_reason "rebound", ended_by = the new binding) and starts a new one.
- A re-scan of the SAME guide's code extends the open binding: last_scan_at and ends_at move
  on, scan_count + 1 (even when its window had already run out: the fan came back to the same
  guide, so it stays one binding with its first scan as `started_at`).
- One open binding per member. `member_bind` locks the member row, so two scans at once are
  serialised and the second one sees (and ends) the first one's binding.
- Suspending a guide does NOT end their bindings: a suspended guide's codes bind nobody and
  their fans' orders are not attributed while the suspension lasts; reinstating restores
  attribution for bindings still inside their window. (Ending them would hand the fans to
  nobody, and a suspension lifted the next day would have cost the guide every fan.)
- After a member merge the survivor may hold two open bindings; the one with the latest scan
  (then the higher id) is the member's binding, and the next scan ends the others.

Window rule (Asia/Shanghai): the scan day is day 1; a 15-day window includes day 15 and ends at
the Shanghai midnight that starts day 16. Windows count from the LAST scan, with the length in
force at order time (the channel's own AttributionWindow, else the brand default, else 15).
`Binding.ends_at` is the end under the brand default, kept for lists and segments; changing the
default moves the ends_at of every open binding in the same transaction.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from config.dates import SHANGHAI, last_day_before, shanghai_date, shanghai_midnight
from config.errors import Forbidden, IllegalTransition
from config.roles import SYSTEM, Role
from config.sql import Pending
from guides.choices import BindingEnd, GuideStatus, ScanOutcome
from guides.errors import GuideExists, GuideRefused, GuideSuspended, ScanRefused, WindowRefused
from guides.models import AttributionWindow, Binding, Guide, GuideLevel, ScanEvent
from guides.policies import guides_managed_by
from guides.sql import binding_from_rows, binding_in_effect, binding_statement
from marketing.choices import IssuedVia
from marketing.models import Coupon, CouponCode
from marketing.services import code_give
from members.models import Member
from members.phones import normalise_phone
from members.services import member_upsert

DEFAULT_ATTRIBUTION_DAYS = 15  # when not even the brand default row exists
DEFAULT_LEVEL_CODE = "standard"

# Guide codes: 8 characters people can read off a printed card and type into a phone, so no
# 0/O, 1/I/L. 31 symbols ** 8 ≈ 8.5e11 codes: a collision is rare and simply retried.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_ATTEMPTS = 10


@dataclass(frozen=True)
class Attribution:
    """Who an order is credited to, and why (stored on the order)."""

    guide: Guide | None
    binding: Binding | None
    reason: str


# --- time -----------------------------------------------------------------------------------------


def window_end(start: datetime, days: int) -> datetime:
    """Exclusive end of a `days`-day window opened at `start`: Shanghai midnight of
    (Shanghai date of `start` + days). The start day is day 1, so day `days` is the last one in."""
    return shanghai_midnight(shanghai_date(start) + timedelta(days=days))


def _local(at: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(SHANGHAI).strftime(fmt)


# --- guides ---------------------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _validated(instance, exclude=None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        raise GuideRefused(
            "; ".join(m for messages in fields.values() for m in messages), fields=fields
        ) from None


@transaction.atomic
def guide_register(*, user, name: str, phone: str = "", store=None, partner=None, level=None) -> Guide:
    """Make a guide with a unique 8-character code and give the user the Guide role.

    One guide per user. A store run by a partner can only be paired with that partner."""
    name = (name or "").strip()
    if not name:
        raise GuideRefused(_("Give the guide's name."), fields={"name": [_("This field is required.")]})
    if user is not None and Guide.objects.filter(user=user).exists():
        raise GuideExists(
            _("%(user)s is already a guide.") % {"user": user}, fields={"user": [_("Already a guide.")]}
        )
    phone = normalise_phone(phone) if (phone or "").strip() else ""
    if store is not None and partner is not None and store.partner_id not in (None, partner.pk):
        raise GuideRefused(
            _("Store %(store)s is run by another partner than %(partner)s.")
            % {"store": store.code, "partner": partner.code},
            fields={"partner": [_("Not the store's partner.")]},
        )
    if level is None:
        level = GuideLevel.objects.filter(code=DEFAULT_LEVEL_CODE).first()

    for _attempt in range(CODE_ATTEMPTS):
        code = _new_code()
        if Guide.objects.filter(code=code).exists():
            continue
        guide = Guide(user=user, code=code, name=name, phone=phone, store=store, partner=partner, level=level)
        _validated(guide, exclude=["code", "user"])  # uniqueness: checked above, enforced below
        try:
            with transaction.atomic():
                guide.save()
        except IntegrityError:
            if user is not None and Guide.objects.filter(user=user).exists():
                raise GuideExists(
                    _("%(user)s is already a guide.") % {"user": user},
                    fields={"user": [_("Already a guide.")]},
                ) from None
            continue  # the code was taken a moment ago: draw again
        break
    else:  # pragma: no cover - 10 collisions in a row means the code space is nearly full
        raise GuideRefused(_("No free guide code found; try again."))

    if user is not None:
        user.groups.add(Group.objects.get_or_create(name=Role.GUIDE.value)[0])
        if hasattr(user, "_role_names"):
            del user._role_names
    return guide


def _locked_guide(guide: Guide) -> Guide:
    return Guide.objects.select_for_update().get(pk=guide.pk)


@transaction.atomic
def _require_guides_manager(actor) -> None:
    if not guides_managed_by(actor):
        raise Forbidden(_("Only HQ suspends and reinstates guides and sets attribution windows."))


def guide_suspend(*, guide: Guide, reason: str, actor) -> Guide:
    """Suspend a guide: their codes bind nobody and their fans' orders are not attributed.

    Open bindings are kept (see the module docstring), so reinstating restores them."""
    _require_guides_manager(actor)
    reason = (reason or "").strip()
    if not reason:
        raise GuideRefused(
            _("Say why the guide is suspended."), fields={"reason": [_("This field is required.")]}
        )
    locked = _locked_guide(guide)
    if locked.status != GuideStatus.ACTIVE:
        raise IllegalTransition(current=locked.status, wanted=GuideStatus.SUSPENDED, what=_("guide"))
    locked.status = GuideStatus.SUSPENDED
    locked.suspended_reason = reason[:255]
    locked.suspended_at = timezone.now()
    locked.save(update_fields=["status", "suspended_reason", "suspended_at"])
    return locked


@transaction.atomic
def guide_reinstate(*, guide: Guide, actor) -> Guide:
    """Lift a suspension: scans bind again, bindings still inside their window attribute again."""
    _require_guides_manager(actor)
    locked = _locked_guide(guide)
    if locked.status != GuideStatus.SUSPENDED:
        raise IllegalTransition(current=locked.status, wanted=GuideStatus.ACTIVE, what=_("guide"))
    locked.status = GuideStatus.ACTIVE
    locked.suspended_reason = ""
    locked.suspended_at = None
    locked.save(update_fields=["status", "suspended_reason", "suspended_at"])
    return locked


# --- scans and bindings ---------------------------------------------------------------------------


@transaction.atomic
def scan_open(*, guide: Guide | None = None, store=None, user_agent: str = "") -> ScanEvent:
    """Record that a guide's or a store's QR code was opened (nobody bound yet).

    A guide's scan carries the guide's store unless another store is given."""
    if guide is None and store is None:
        raise ScanRefused(_("A scan needs a guide or a store code."), fields={"code": [_("Unknown code.")]})
    if guide is None:
        outcome = ScanOutcome.STORE
    else:
        guide = Guide.objects.get(pk=guide.pk)  # the status now, not when the caller loaded it
        outcome = ScanOutcome.OPENED if guide.is_active else ScanOutcome.SUSPENDED
    # Ids, not objects: the guide's store need not be loaded to be recorded.
    store_id = store.pk if store is not None else getattr(guide, "store_id", None)
    return ScanEvent.objects.create(
        guide=guide, store_id=store_id, outcome=outcome, user_agent=(user_agent or "")[:255]
    )


@transaction.atomic
def scan_bind(*, scan: ScanEvent, phone: str, name: str = "", at: datetime | None = None) -> Binding | None:
    """The customer on a scan's landing page gave their phone: find or create the member and
    bind them to the scan's guide. A suspended guide's or a store's scan binds nobody (None);
    the member is still recorded on the scan.

    Sending the same phone again for the same scan is a no-op that returns the binding; another
    phone on a scan that already bound someone is refused (each page opening is one scan)."""
    scan = ScanEvent.objects.select_for_update().get(pk=scan.pk)
    member = member_upsert(phone=phone, name=(name or "").strip(), actor=SYSTEM).member
    if scan.member_id is not None:
        if scan.member_id != member.pk:
            raise ScanRefused(
                _("This scan was already used by another customer; scan the code again."),
                fields={"phone": [_("Scan again.")]},
            )
        if scan.outcome in (ScanOutcome.BOUND, ScanOutcome.REBOUND, ScanOutcome.EXTENDED):
            from guides.selectors import current_binding

            return current_binding(member)
    if scan.guide_id is None:
        scan.member = member
        scan.save(update_fields=["member"])
        return None
    guide = Guide.objects.get(pk=scan.guide_id)
    if not guide.is_active:
        scan.member = member
        scan.outcome = ScanOutcome.SUSPENDED
        scan.save(update_fields=["member", "outcome"])
        return None
    return member_bind(member=member, guide=guide, scan=scan, at=at)


@transaction.atomic
def member_bind(
    *, member: Member, guide: Guide, scan: ScanEvent | None = None, at: datetime | None = None
) -> Binding:
    """Bind a member to a guide by a scan at `at`: last scan wins, the same guide extends.

    The member row is locked first (SELECT ... FOR UPDATE), so concurrent scans for one member
    run one after the other and there is never more than one open binding."""
    at = at or timezone.now()
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.is_merged:
        raise ScanRefused(
            _("Member %(id)s was merged into member %(into)s.")
            % {"id": member.pk, "into": member.merged_into_id},
            fields={"member": [_("Merged.")]},
        )
    guide = Guide.objects.get(pk=guide.pk)
    if not guide.is_active:
        raise GuideSuspended(
            _("Guide %(code)s is suspended; their code binds nobody.") % {"code": guide.code},
            fields={"guide": [_("Suspended.")]},
        )
    ends_at = window_end(at, attribution_days(None))
    open_bindings = list(
        Binding.objects.filter(member=member, ended_at__isnull=True).order_by("-last_scan_at", "-id")
    )
    same = next((b for b in open_bindings if b.guide_id == guide.pk), None)
    if same is not None:
        if at >= same.last_scan_at:  # a late-arriving older scan never shortens the window
            same.last_scan_at = at
            same.ends_at = ends_at
        same.scan_count = F("scan_count") + 1
        same.save(update_fields=["last_scan_at", "ends_at", "scan_count"])
        same.refresh_from_db(fields=["scan_count"])
        binding, outcome = same, ScanOutcome.EXTENDED
    else:
        binding = Binding(
            member=member,
            guide=guide,
            store_id=(scan.store_id if scan is not None and scan.store_id else guide.store_id),
            started_at=at,
            last_scan_at=at,
            ends_at=ends_at,
        )
        binding.full_clean()
        binding.save()
        outcome = ScanOutcome.REBOUND if open_bindings else ScanOutcome.BOUND

    others = [b.pk for b in open_bindings if b.pk != binding.pk]
    if others:  # the other guides' fans no more (or a merged duplicate's second binding)
        Binding.objects.filter(pk__in=others).update(
            ended_at=at, end_reason=BindingEnd.REBOUND, ended_by=binding
        )
    if scan is not None:
        scan.member = member
        scan.outcome = outcome
        scan.save(update_fields=["member", "outcome"])
    return binding


# --- attribution ----------------------------------------------------------------------------------


def attribution_days(channel) -> int:
    """The attribution window in days for orders on `channel`: its own row, else the brand's."""
    where = Q(channel__isnull=True) | Q(channel=channel) if channel is not None else Q(channel__isnull=True)
    rows = dict(AttributionWindow.objects.filter(where).values_list("channel_id", "days"))
    if channel is not None and channel.pk in rows:
        return rows[channel.pk]
    return rows.get(None, DEFAULT_ATTRIBUTION_DAYS)


def attribution_for(*, member, channel, at: datetime) -> Attribution:
    """The guide an order by `member` on `channel` at `at` is attributed to (or why none).

    The member's binding in effect at `at` (latest scan wins) attributes the order when the
    channel's window, counted from the last scan (Shanghai days, see window_end), still covers
    `at` and the guide is active. One plain statement (guides.sql.binding_in_effect)."""
    if member is None:
        return Attribution(guide=None, binding=None, reason=_("Not attributed: not bound to a guide."))
    binding = binding_in_effect(member.pk, at, channel.pk if channel is not None else None)
    return _attribution(binding, channel, at)


def attribution_read(batch, *, member, channel, at: datetime) -> Pending:
    """`attribution_for` queued on `batch` (a config.sql.Batch; its `value` once the batch ran), so
    an order's reads go to the database in one round trip."""
    if member is None:
        return Pending.of(attribution_for(member=None, channel=channel, at=at))
    statement, params = binding_statement(member.pk, at, channel.pk if channel is not None else None)
    return batch.read(statement, params, lambda rows: _attribution(binding_from_rows(rows), channel, at))


def _attribution(binding, channel, at: datetime) -> Attribution:
    if binding is None:
        return Attribution(guide=None, binding=None, reason=_("Not attributed: not bound to a guide."))
    guide = binding.guide
    days = binding.window_days or DEFAULT_ATTRIBUTION_DAYS
    end = window_end(binding.last_scan_at, days)
    facts = {
        "code": guide.code,
        "days": days,
        "scan": _local(binding.last_scan_at),
        "last_day": last_day_before(end).isoformat(),
        "channel": channel.name if channel is not None else _("any channel"),
    }
    if at >= end:
        return Attribution(
            guide=None,
            binding=None,
            reason=_(
                "Not attributed: the %(days)s-day window of guide %(code)s ended on %(last_day)s "
                "(last scan %(scan)s)."
            )
            % facts,
        )
    if not guide.is_active:
        return Attribution(
            guide=None,
            binding=None,
            reason=_("Not attributed: guide suspended (%(code)s, last scan %(scan)s).") % facts,
        )
    return Attribution(
        guide=guide,
        binding=binding,
        reason=_(
            "Guide %(code)s: last scan %(scan)s, inside the %(days)s-day window on %(channel)s "
            "(last day %(last_day)s)."
        )
        % facts,
    )


@transaction.atomic
def attribution_window_set(*, days: int, channel=None, actor) -> AttributionWindow:
    """Set the window length for a channel (or the brand default when channel is None).

    Changing the default moves `ends_at` of every open binding by the difference, in one UPDATE
    (Shanghai has no daylight saving, so a midnight plus whole days is still a midnight)."""
    _require_guides_manager(actor)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        raise WindowRefused(
            _("An attribution window is 1 to 365 days."), fields={"days": [_("1 to 365 days.")]}
        )
    window = (
        AttributionWindow.objects.select_for_update()
        .filter(**({"channel": channel} if channel is not None else {"channel__isnull": True}))
        .first()
    )
    if window is None:
        window = AttributionWindow(channel=channel, days=days)
        window.full_clean(validate_constraints=False)
        window.save()
        old = DEFAULT_ATTRIBUTION_DAYS
    else:
        old = window.days
        window.days = days
        window.save(update_fields=["days"])
    if channel is None and days != old:
        Binding.objects.filter(ended_at__isnull=True).update(
            ends_at=F("ends_at") + timedelta(days=days - old)
        )
    return window


# --- coupons for fans -----------------------------------------------------------------------------


def fan_coupons(at: datetime | None = None) -> QuerySet[Coupon]:
    """The coupons a guide may hand a fan now: those HQ offers at QR codes (claimable), in their
    window. What anyone could claim at the guide's QR page, given by hand and attributed."""
    at = at or timezone.now()
    return (
        Coupon.objects.filter(claimable=True, valid_from__lte=at)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .order_by("name", "pk")
    )


@transaction.atomic
def fan_coupon_give(*, binding: Binding, coupon: Coupon, actor, at: datetime | None = None) -> CouponCode:
    """A guide hands one of their fans a coupon (marketing.services.code_give, attributed to the
    guide): only the guide themselves, while active, to a member whose binding with them is open
    and inside its window; code_give refuses a coupon not claimable or ended (the portal offers
    `fan_coupons`)."""
    at = at or timezone.now()
    binding = Binding.objects.select_related("guide", "member").get(pk=binding.pk)
    guide = binding.guide
    if guide.user_id is None or guide.user_id != getattr(actor, "pk", None):
        raise Forbidden(_("Only the guide gives their fans coupons."))
    if not guide.is_active:
        raise GuideSuspended(_("A suspended guide gives no coupons."))
    if binding.ended_at is not None or binding.ends_at <= at:
        raise GuideRefused(
            _("This member is no longer your fan."), fields={"binding": [_("Binding ended or expired.")]}
        )
    return code_give(coupon=coupon, member=binding.member, via=IssuedVia.GUIDE, actor=actor, guide=guide)
