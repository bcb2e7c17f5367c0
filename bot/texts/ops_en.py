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
    "ops.backup.done": "Backup written: {path}",
    "ops.backup.db": "  database {name}: {size}, schema version {schema}, integrity check {integrity}",
    "ops.backup.tables": "  rows: {tables}",
    "ops.backup.photos": "  photos: {files} files ({size}); the {named} photos reports name all match their hashes",
    "ops.backup.manifest": "  manifest: {path}",
    "ops.backup.no_database": "There is no database at {detail}.",
    "ops.backup.dest_not_empty": "{detail} exists and is not an empty directory: give a new one.",
    "ops.backup.not_a_backup": "{detail} is not a rider-bot backup (no database or MANIFEST.json).",
    "ops.backup.integrity": "The backup failed its integrity check: {detail}",
    "ops.backup.counts": "The backup's row counts differ from its manifest: {detail}",
    "ops.backup.photo_bad": "A photo is missing or does not match its hash: {detail}",
    "ops.backup.live": (
        "A running bot is using the database (pid {detail}). Stop it first, or --force to restore in place."
    ),
    "ops.restore.done": "Restored {path} into {target}.",
    "ops.restore.previous": "  the database that was there is now {path}.",
    "ops.restore.live": (
        "  the bot is running: the data was replaced in place; restart it to reload places and grids."
    ),
    "ops.restore.photos": "  {n} photo files added.",
    "ops.doctor.check.config": "configuration",
    "ops.doctor.check.token": "bot token",
    "ops.doctor.check.webhook": "webhook",
    "ops.doctor.check.database": "database",
    "ops.doctor.check.disk": "free disk",
    "ops.doctor.check.photos": "photo directory",
    "ops.doctor.check.clock": "time zone and clock",
    "ops.doctor.check.wechat": "WeChat token",
    "ops.doctor.no_token": "TELEGRAM_TOKEN is not set: rider-bot run would start the offline demo",
    "ops.doctor.webhook": "url {url} · pending updates {pending}",
    "ops.doctor.webhook_polling": "(polling deletes this webhook at start)",
    "ops.doctor.db": "{path} · schema version {version}/{latest} · quick check {check}",
    "ops.doctor.db_new": "{path} does not exist yet: made at the first start (schema version {latest})",
    "ops.doctor.disk": "{free} GB free ({share})",
    "ops.doctor.photos_new": "{path} does not exist yet: made with the first photo",
    "ops.doctor.clock": "{tz} · local time {now}",
    "ops.doctor.clock_unknown": "could not compare with the Bot API server",
    "ops.doctor.skew": "{skew} s off the Bot API server",
    "ops.doctor.wechat_ok": "access_token obtained ({token})",
    "ops.doctor.summary_ok": "All {n} checks passed.",
    "ops.doctor.summary_bad": "{bad} of {n} checks failed: see what to do after each arrow.",
    "ops.doctor.fix.webhook_https": "Telegram only accepts https:// webhook URLs: change RIDER_WEBHOOK_URL",
    "ops.doctor.fix.no_token": "create a bot with @BotFather and set its token as TELEGRAM_TOKEN",
    "ops.doctor.fix.token_rejected": (
        "the token was refused (revoked or mistyped): get a new one with /token at @BotFather"
    ),
    "ops.doctor.fix.unreachable": "the Bot API cannot be reached: check the network, proxy and TELEGRAM_BASE_URL",
    "ops.doctor.fix.webhook_other": (
        "the webhook points elsewhere: starting the bot sets {url} again; make sure no other instance uses this token"
    ),
    "ops.doctor.fix.webhook_error": (
        "Telegram cannot deliver: check the reverse proxy, the certificate and that RIDER_WEBHOOK_PORT is reachable"
    ),
    "ops.doctor.fix.webhook_backlog": "updates are piling up: is the bot running? look at its log",
    "ops.doctor.fix.db_dir": "{path} is not writable: create it, owned by the user the bot runs as",
    "ops.doctor.fix.db_broken": "the database is damaged: stop the bot and rider-bot restore the latest backup",
    "ops.doctor.fix.db_newer": "the database is newer than this program: run the newer rider-bot",
    "ops.doctor.fix.db_readonly": (
        "{path} or its directory is not writable: check permissions and the mount (read-only?)"
    ),
    "ops.doctor.fix.private": "other users can read {path}: chmod {mode}",
    "ops.doctor.fix.disk": "low on disk: remove old backups and logs, or grow the disk (keep 1 GB and 5% free)",
    "ops.doctor.fix.photos_writable": "{path} is not writable: give it to the user the bot runs as",
    "ops.doctor.fix.clock": "the system clock is off: turn on time sync (timedatectl set-ntp true)",
    "ops.doctor.fix.wechat": (
        "check RIDER_WECHAT_APPID, RIDER_WECHAT_SECRET and the IP allow-list of the official account"
    ),
    "ops.backup.pg_tool_missing": "{detail} not found: install postgresql-client-15 (Debian) or put it on PATH.",
    "ops.backup.pg_tool_failed": "A PostgreSQL tool failed: {detail}",
    "ops.backup.pg_unreachable": "PostgreSQL unreachable: {detail}",
    "ops.backup.pg_target_not_empty": (
        "The target database is not empty: {detail}. restore writes into an empty database only: have one created"
        " (CREATE DATABASE) and point RIDER_DATABASE_URL at it."
    ),
    "ops.doctor.pg": "PostgreSQL {url} · schema version {version}/{latest}",
    "ops.doctor.pg_leader": "sending and jobs led by {leader}",
    "ops.doctor.pg_no_leader": "no process leads sending and jobs (bot not running, or an election under way)",
    "ops.doctor.fix.pg_unreachable": "PostgreSQL unreachable: check RIDER_DATABASE_URL, the server, pg_hba.conf",
    "ops.doctor.fix.pg_readonly": (
        "PostgreSQL takes no writes: check default_transaction_read_only, whether this is a standby, the role's grants"
    ),
}
