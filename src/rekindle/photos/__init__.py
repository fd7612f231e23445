"""Photos: upload, list, get, delete, restore, attempts, selection (the primary API surface)."""
