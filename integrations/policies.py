"""Who may manage the integration plumbing: API keys, webhook subscriptions, the outbox and its
deliveries. HQ people only (docs/security.md: "API keys, webhooks, admin ... HQ"); never an API key,
so a key cannot make or revoke keys, whatever its scopes. The API, the admin and the services ask
here."""

from django.utils.translation import gettext as _

from config.errors import Forbidden
from config.roles import is_hq
from integrations.authentication import api_key_of


def integrations_manageable_by(actor) -> bool:
    """True for an HQ admin signed in as a person."""
    return bool(
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and api_key_of(actor) is None
        and is_hq(actor)
    )


def integrations_require(actor) -> None:
    """Raise Forbidden (403) unless the actor may manage API keys and webhooks."""
    if not integrations_manageable_by(actor):
        raise Forbidden(_("Only HQ admins may manage API keys and webhooks."))
