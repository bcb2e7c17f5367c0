"""English: operator commands (dead letters, backup and restore, the doctor)."""

TEXTS: dict[str, str] = {
    "ops.outbox.row": "#{id} [{status}] {channel}:{address} {attempts} attempts · next {next_at} · {idem}{error}",
    "ops.outbox.error": " · error: {error}",
    "ops.outbox.none": "No messages match.",
    "ops.outbox.none_dead": "No dead letters.",
    "ops.outbox.retried": "Queued {n} messages again: {ids}. The running bot sends them within seconds.",
    "ops.outbox.dropped": "Dropped message #{id} (was {status}); its content is kept in audit record #{audit}.",
    "ops.outbox.not_found": "There is no message #{id}.",
    "ops.outbox.not_dead": "Message #{id} is {status}: only dead messages can be retried.",
    "ops.outbox.cannot_drop": "Message #{id} is {status}: only pending or dead messages can be dropped.",
    "ops.outbox.retry_what": "Give a message id, or --all-dead to retry every dead letter.",
}
