"""Make an API key from the shell (the first key of a new integration, scripts): prints it once."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.models import Channel
from config.errors import DomainError
from config.roles import SYSTEM
from integrations.services import api_key_create
from stores.models import Partner


class Command(BaseCommand):
    help = (
        "Make an API key bound to a channel (--channel CODE) or a partner (--partner CODE); prints it once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--channel", help="Channel code.")
        parser.add_argument("--partner", help="Partner code.")
        parser.add_argument("--scopes", required=True, help="Comma-separated, e.g. catalog:read,orders:write")
        parser.add_argument("--expires-days", type=int, help="Expire after this many days.")

    def handle(self, *args, name, channel, partner, scopes, expires_days, **options):
        try:
            channel = Channel.objects.get(code=channel) if channel else None
            partner = Partner.objects.get(code=partner) if partner else None
        except (Channel.DoesNotExist, Partner.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            key, plaintext = api_key_create(
                name=name,
                channel=channel,
                partner=partner,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                expires_at=expires_at,
                actor=SYSTEM,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"API key {key.prefix} ({key.name}); copy it now, it is not shown again:")
        self.stdout.write(plaintext)
