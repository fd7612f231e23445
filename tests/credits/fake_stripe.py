"""A local HTTP server that stands in for Stripe's API (`POST /v1/checkout/sessions`).

It speaks the documented protocol: form-encoded parameters with bracketed keys
(`line_items[0][price]`), `Authorization: Bearer <secret key>`, a Checkout Session object in
return (https://docs.stripe.com/api/checkout/sessions/object), and Stripe's error body for a bad key
or an unknown price (https://docs.stripe.com/api/errors).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class FakeStripe:
    secret_key: str
    prices: dict[str, int]
    """Known price ids and their unit amount (cents)."""
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def sessions_created(self) -> list[dict[str, str]]:
        return [r["form"] for r in self.requests if r["path"] == "/v1/checkout/sessions"]


def _session_object(form: dict[str, str], amount: int) -> dict[str, Any]:
    session_id = "cs_test_" + secrets.token_hex(24)
    now = int(time.time())
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in form.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "cancel_url": form.get("cancel_url"),
        "client_reference_id": form.get("client_reference_id"),
        "created": now,
        "currency": "usd",
        "customer": None,
        "customer_email": form.get("customer_email"),
        "expires_at": now + 24 * 3600,
        "livemode": False,
        "metadata": metadata,
        "mode": form.get("mode"),
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": form.get("success_url"),
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
    }


def _error(message: str, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "type": "invalid_request_error"}
    if code:
        body["code"] = code
        body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        body["param"] = param
    return {"error": body}


@contextmanager
def fake_stripe(secret_key: str, prices: dict[str, int]) -> Iterator[FakeStripe]:
    """Run the fake on an ephemeral port; yields it with `url` set (use it as STRIPE_API_BASE)."""
    state = FakeStripe(secret_key=secret_key, prices=prices)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_" + secrets.token_hex(7))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = dict(parse_qsl(raw, keep_blank_values=True))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "form": form}
            )
            if self.headers.get("Authorization") != f"Bearer {state.secret_key}":
                self._reply(401, _error("Invalid API Key provided."))
                return
            if self.path != "/v1/checkout/sessions":
                self._reply(404, _error(f"Unrecognized request URL (POST: {self.path})."))
                return
            if form.get("mode") not in ("payment", "subscription", "setup"):
                self._reply(
                    400, _error("Invalid mode.", code="parameter_invalid_empty", param="mode")
                )
                return
            price = form.get("line_items[0][price]", "")
            if price not in state.prices:
                self._reply(
                    400,
                    _error(
                        f"No such price: '{price}'",
                        code="resource_missing",
                        param="line_items[0][price]",
                    ),
                )
                return
            quantity = int(form.get("line_items[0][quantity]", "1"))
            self._reply(200, _session_object(form, state.prices[price] * quantity))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
