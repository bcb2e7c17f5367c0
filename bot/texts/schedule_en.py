"""English: time limits, reminders, escalation and digests."""

TEXTS: dict[str, str] = {
    "cmd.stats": "Statistics (supervisors/admins)",
    "cmd.overdue": "Overdue tasks (supervisors/admins)",
    "phase.accept": "accept",
    "phase.resolve": "resolve",
    "remind.text": "⏰ Reminder: {ref} {category} — {phase} by {due} ({left} left).",
    "escalate.workers": "🚨 Overdue: {ref} {category} is past its time to {phase} by {over}.\n{card}",
    "escalate.level.1": "escalated to the community",
    "escalate.level.2": "escalated to the street office",
    "escalate.level.3": "handed to {department} (the community blew the whistle)",
    "escalate.rider": "⏰ {ref} is overdue and was {step}.",
    "escalate.audit": "escalation level {level} ({phase} overdue by {over})",
    "digest.title": "📊 Daily report for {date} ({scope})",
    "digest.body": (
        "New yesterday: {new}\nOpen: {open}\nOverdue: {overdue}\nResolved yesterday: {resolved}\n"
        "On time: {on_time}\nSatisfaction: {satisfaction}"
    ),
    "digest.oldest": "Oldest open:",
    "digest.line": "{ref} {category} · {status} · {age}",
    "digest.none": "—",
    "digest.scope_all": "all",
    "stats.not_allowed": "Only community and street supervisors and admins can see statistics.",
    "overdue.none": "🎉 Nothing is overdue.",
    "overdue.header": "⏰ Overdue ({n}):",
    "overdue.line": "{ref} {category} · {phase} overdue by {over}",
    "cli.stats": "{scope}: new {new} · open {open} · overdue {overdue} · resolved {resolved} · on time {on_time}"
    " · satisfaction {satisfaction}",
    "cli.sla_line": "{category}: accept {accept} min · resolve {resolve} min{urgent}",
    "cli.sla_urgent": " · urgent",
    "cli.sla_set": "✔ Time limits for {category} updated.",
    "cli.sla_unknown": "Unknown category: {category}",
}
