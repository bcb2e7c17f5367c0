-- Inbound messages already handled, per channel (Telegram update_id, WeChat MsgId, …): chat platforms deliver
-- at least once (webhook retries, a getUpdates offset lost in a crash), and the same update must not act twice.
CREATE TABLE inbound_seen (
    channel  TEXT NOT NULL,
    key      TEXT NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (channel, key)
);
CREATE INDEX inbound_seen_at ON inbound_seen(at);
