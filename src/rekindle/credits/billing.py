"""`/api/v1/billing`: Stripe Checkout for credit packs and the Stripe webhook (thin endpoints)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS, ErrorBody
from rekindle.api.routing import TransactionalRoute
from rekindle.credits import payments
from rekindle.credits.errors import InvalidPayload
from rekindle.credits.schemas import CheckoutOut, CheckoutRequest, PackOut, PacksOut, WebhookOut

router = APIRouter(
    route_class=TransactionalRoute,
    prefix="/billing",
    tags=["billing"],
    responses={
        **ERRORS,
        502: {"model": ErrorBody, "description": "The payment provider refused or is unreachable"},
        404: {
            "model": ErrorBody,
            "description": "Billing is not configured here (`billing_not_configured`), or "
            "another resource is not found",
        },
    },
)


async def raw_body(request: Request) -> bytes:
    """The request body exactly as sent (the webhook signature covers these bytes)."""
    return await request.body()


@router.get("/packs", response_model=PacksOut)
def list_packs(runtime: RuntimeDep, user: CurrentUser) -> PacksOut:
    """The credit packs on sale, and whether checkout is configured."""
    settings = runtime.settings
    return PacksOut(
        enabled=payments.checkout_enabled(settings),
        packs=[
            PackOut(id=key, name=pack.name or key, credits=pack.credits)
            for key, pack in sorted(settings.credit_packs.items(), key=lambda kv: kv[1].credits)
        ],
    )


@router.post("/checkout", response_model=CheckoutOut)
def checkout(
    body: CheckoutRequest, runtime: RuntimeDep, user: CurrentUser, base_url: BaseUrl
) -> CheckoutOut:
    """Start buying a credit pack: creates a Stripe Checkout Session and returns its URL. The
    credits are granted by the webhook once Stripe reports the payment."""
    created = payments.create_checkout(runtime.settings, user, body.pack, base_url)
    return CheckoutOut(
        session_id=created.session_id, url=created.url, pack=created.pack, credits=created.credits
    )


@router.post("/webhook", response_model=WebhookOut)
def stripe_webhook(
    runtime: RuntimeDep,
    session: SessionDep,
    payload: Annotated[bytes, Depends(raw_body)],
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> Any:
    """Stripe's webhook (no bearer token: the `Stripe-Signature` header is the credential).
    Grants a paid Checkout Session's credits once; other events are acknowledged and ignored.
    400 `invalid_signature` for a missing, wrong or stale signature; 400 `invalid_payload` for a
    signed event of the wrong shape (recorded, nothing granted); 404 `billing_not_configured`."""
    event = payments.verify_event(runtime.settings, payload, stripe_signature)
    outcome = payments.handle_event(session, runtime.settings, event)
    if outcome == "malformed":
        session.commit()  # keep the record of the rejected event; the error rolls back nothing
        raise InvalidPayload(
            "The event is signed but its fields are not a Stripe Checkout Session's; "
            "nothing was granted."
        )
    return WebhookOut(outcome=outcome)
