-- When a message is due to its person, apart from when the dispatcher may next try it (`next_at`): a receipt is
-- due at once but left to the door for a few seconds; a quiet-hours notice is due when the quiet hours end.
-- The delivery-latency histogram measures from here. Rows from before this migration keep the old reading.
ALTER TABLE outbox ADD COLUMN due_at TEXT;
