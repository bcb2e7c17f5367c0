"""Points that buy something: the append-only ledger, the rewards catalogue, one-time redemption codes."""
