"""The doctor's checks, one a module; the order is the order of the report's ties."""

from __future__ import annotations

from postroom.services.doctor.checks.certificates import Certificates
from postroom.services.doctor.checks.exchange_basic_auth import ExchangeBasicAuth
from postroom.services.doctor.checks.gaps import Gaps
from postroom.services.doctor.checks.google_passwords import GooglePasswords
from postroom.services.doctor.checks.oauth_consent import OAuthConsent
from postroom.services.doctor.checks.oauth_inactivity import OAuthInactivity
from postroom.services.doctor.checks.stale_mailboxes import StaleMailboxes
from postroom.services.doctor.checks.starttls import StartTls
from postroom.services.doctor.checks.uncertain_outbox import UncertainOutbox
from postroom.services.doctor.checks.webhooks_failing import WebhooksFailing
from postroom.services.doctor.model import Check

CHECKS: tuple[Check, ...] = (
    ExchangeBasicAuth(),
    GooglePasswords(),
    OAuthConsent(),
    OAuthInactivity(),
    Certificates(),
    StartTls(),
    StaleMailboxes(),
    UncertainOutbox(),
    WebhooksFailing(),
    Gaps(),
)
