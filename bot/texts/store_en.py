"""The database: start-up errors and `rider-bot db copy` (English)."""

TEXTS = {
    "db.unavailable": "Cannot open the database {database}: {reason}\nCheck the host, port, user and password, and that"
    " the database server is running.",
    "db.bad_url": "Invalid database URL: {reason}",
    "db.copy_same": "The source and the target are the same database: {database}",
    "db.copy_refused": "Nothing was copied: {reason}\n(With --force a non-empty target is emptied first.)",
    "db.copy_table": "  {table}: {rows} rows",
    "db.copy_done": "Copied {tables} tables, {rows} rows: {source} → {target}\nRow counts and checksums (SHA-256) match"
    " for every table.",
    "db.copy_mismatch": "The copy does not match the source: {reason}\nDo not trust the target; find the cause and copy"
    " again with --force.",
}
