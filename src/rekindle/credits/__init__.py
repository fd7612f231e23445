"""Credits: the append-only ledger, account endpoints (`/me`) and Stripe payments (`/billing`)."""
