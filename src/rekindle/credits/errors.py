"""Errors of the credits and billing endpoints (rendered by the one AppError handler).

`PaymentRequired` (402 `insufficient_credits`) lives in `rekindle.errors`, beside the others that
any service may raise.
"""

from __future__ import annotations

from rekindle.errors import AppError


class BillingNotConfigured(AppError):
    """Stripe is not configured (the embedded default): no checkout, no webhook. A feature that is
    off is not an outage, so 404 (not 503: monitors and clients would retry a 503)."""

    status, code = 404, "billing_not_configured"
    message = (
        "Payments are not configured on this server (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, "
        "CREDIT_PACKS); an operator can grant credits with `rekindle credits grant`."
    )


class InvalidSignature(AppError):
    """A webhook whose `Stripe-Signature` is missing, wrong or too old."""

    status, code = 400, "invalid_signature"
    message = "The Stripe-Signature header does not match this payload."


class InvalidPayload(AppError):
    status, code = 400, "invalid_payload"
    message = "The webhook body is not a Stripe event."


class UnknownPack(AppError):
    status, code = 400, "unknown_pack"
    message = "No such credit pack."


class PaymentProviderError(AppError):
    """Stripe refused or could not be reached."""

    status, code = 502, "payment_provider_error"
    message = "The payment provider could not start a checkout; please retry later."
