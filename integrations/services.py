"""Writes of API keys: make one (the plaintext is returned once and never stored), revoke one."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.authentication import actor as person_of
from integrations.choices import Scope
from integrations.errors import ApiKeyRefused
from integrations.keys import key_generate, key_hash
from integrations.models import ApiKey
from integrations.policies import integrations_require

# Scopes that write for a sales channel (its orders, customers, prices): never a partner's.
CHANNEL_ONLY_SCOPES = {Scope.ORDERS_WRITE, Scope.MEMBERS_WRITE, Scope.PRICES_WRITE}


@transaction.atomic
def api_key_create(*, name, channel=None, partner=None, scopes, expires_at=None, actor) -> tuple[ApiKey, str]:
    """Make a key bound to exactly one channel or one partner with known scopes.

    Returns (key, plaintext); the plaintext `<prefix>.<secret>` is shown once - only the hash of
    the secret is kept. `actor` is the person making it, who must be HQ (SYSTEM: the product itself,
    `manage.py api_key_create`)."""
    user = person_of(actor)
    integrations_require(actor)
    if (channel is None) == (partner is None):
        raise ApiKeyRefused(
            _("A key is bound to exactly one channel or one partner."),
            fields={"channel": [_("Choose a channel or a partner, not both.")]},
        )
    scopes = list(scopes or [])
    unknown = sorted({str(s) for s in scopes} - set(Scope.values))
    if unknown:
        raise ApiKeyRefused(
            _("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)}, fields={"scopes": unknown}
        )
    if not scopes:
        raise ApiKeyRefused(_("A key needs at least one scope."), fields={"scopes": [_("Choose scopes.")]})
    channel_only = sorted({str(s) for s in scopes} & CHANNEL_ONLY_SCOPES)
    if partner is not None and channel_only:
        raise ApiKeyRefused(
            _("A partner's key cannot have the scopes %(scopes)s: they act for a sales channel.")
            % {"scopes": ", ".join(channel_only)},
            fields={"scopes": channel_only},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyRefused(
            _("The expiry is in the past."), fields={"expires_at": [_("Choose a future time.")]}
        )
    if not (name or "").strip():
        raise ApiKeyRefused(_("A key needs a name."), fields={"name": [_("This field is required.")]})
    while True:
        prefix, secret, plaintext = key_generate()
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        hashed_key=key_hash(secret),
        channel=channel,
        partner=partner,
        scopes=sorted({str(s) for s in scopes}),
        expires_at=expires_at,
        created_by=user if getattr(user, "pk", None) else None,
    )
    return key, plaintext


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor) -> ApiKey:
    """Revoke a key now; it answers 401 from its next request on. Revoking twice keeps the first time.
    `actor` is the person revoking it, who must be HQ (or SYSTEM, the product itself)."""
    integrations_require(actor)
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db(fields=["revoked_at"])
    if not updated and key.revoked_at is None:  # pragma: no cover - the row is gone
        raise ApiKeyRefused(_("This key no longer exists."))
    return key
