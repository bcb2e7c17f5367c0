-- Many processes on one PostgreSQL database (docs/SCALING.md, "Order across processes"): each recorded update
-- carries its chat and its number, so whichever process holds a chat's lock handles that chat's unfinished
-- updates in update order, whoever received them. Rows from before this migration are done or re-run as before.
ALTER TABLE inbound_seen ADD COLUMN chat TEXT NOT NULL DEFAULT '';
ALTER TABLE inbound_seen ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX inbound_seen_open_chat ON inbound_seen(channel, chat, seq) WHERE done = 0;
-- The flood budgets every process spends from (PostgreSQL; one process on SQLite keeps them in memory): a token
-- bucket per user ('telegram:123') and one for everyone ('*'); `at` is the server's clock in epoch seconds;
-- warned: 0 let through last time, 1 just told to slow down, 2 ignored since.
CREATE TABLE flood_buckets (
    who     TEXT PRIMARY KEY,
    tokens  REAL NOT NULL,
    at      REAL NOT NULL,
    warned  INTEGER NOT NULL DEFAULT 0
);
-- The webhook's secret token, one per bot, shared by every process behind the load balancer (each calls
-- setWebhook with it at start; a per-process secret would make the others refuse Telegram's posts).
CREATE TABLE webhook_secrets (
    bot     TEXT PRIMARY KEY,
    secret  TEXT NOT NULL,
    at      TEXT NOT NULL
);
