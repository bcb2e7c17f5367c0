-- An inbound update is recorded when it arrives (before the platform is told it was received) and marked done
-- when its handlers have finished: one interrupted by a crash is re-run at the next start, from `payload`
-- (cleared once done, so the table keeps no message contents). Rows from before this migration are done.
ALTER TABLE inbound_seen ADD COLUMN done INTEGER NOT NULL DEFAULT 1;
ALTER TABLE inbound_seen ADD COLUMN payload TEXT;
ALTER TABLE inbound_seen ADD COLUMN boot TEXT NOT NULL DEFAULT '';
ALTER TABLE inbound_seen ADD COLUMN tries INTEGER NOT NULL DEFAULT 1;
CREATE INDEX inbound_seen_unfinished ON inbound_seen(channel, done);
