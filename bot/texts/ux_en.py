"""English: the second pass for riders and grid workers (issue #13): cards, deadlines, menus, first answers."""

TEXTS: dict[str, str] = {
    "cmd.station": "My station (keepers)",
    "ux.route": "🧭 Route",
    "ux.deadline.accept": "accept within {limit} · {left} left",
    "ux.deadline.accept_over": "accept within {limit} · {over} overdue",
    "ux.deadline.resolve": "resolve within {limit} · {left} left",
    "ux.deadline.resolve_over": "resolve within {limit} · {over} overdue",
    "ux.origin.transfer": "🔀 Transferred by {who}: {note}",
    "ux.origin.escalation": "🚨 From {who}: {phase} overdue by {over}, escalated by the community",
    "ux.joined_photos": "➕ {ref}: one more rider reported it and added {n} photo(s)",
    "ux.stats.title": "📊 Statistics ({date})",
    "ux.stats.area": (
        "[{scope}]\nToday: new {new_today} · resolved {resolved_today}\n"
        "Yesterday: new {new_yesterday} · resolved {resolved_yesterday}\n"
        "Open {open} · overdue {overdue} · on time {on_time}"
    ),
    "ux.stats.quiet": "{n} more area(s) had no reports today or yesterday and are not listed.",
    "ux.stats.all_quiet": "🎉 No reports today or yesterday, and none open.",
    "ux.ride_short": "{min} min by e-bike",
    "ux.opens_at": "🔴 opens {time}",
    "ux.farther": "Farther:",
    "ux.approx_short": "ℹ️ approximate positions",
    "ux.outside_coverage": (
        "😕 We have no stations near here yet.\nCovered today: {cities}.\n"
        "Know a station or a friendly shop here? Suggest it with /suggest (or tell the local grid worker); once "
        "checked it will show up here."
    ),
    "ux.details": "ℹ️ Details",
    "ux.more_filters": "🔎 More",
    "ux.prev": "⬅️ Back",
    "ux.nearest": "🏠 Nearest",
    "ux.hello": "Hello! 👋 I'm the rider helper.\nShare your location for the nearest station, or just say "
    "“charging”, “toilet”, “water”, “microwave”, “rest”.",
    "ux.thanks": "You're welcome! Ride safe 🛵",
    "ux.near_place": "near {place} ({distance})",
    "ux.stale": "📍 Your last location: {where}, at {time} ({ago} ago).\nStill there? Use it, or share your "
    "location again with “📍 Send location” below.",
    "ux.use_this": "✅ Use this location",
    "ux.need_location_for": "Sure, stations with {amenity}. First share your location: tap “📍 Send location” below.",
    "ux.city_head": "🏙 {city}: {scope} near the centre",
    "ux.report_outside": (
        "This place is outside our service area (covered today: {cities}); no grid worker could act on it.\n"
        "Check your location and send it again; in an emergency call 12345 or 110."
    ),
    "ux.hazards": "⚠️ Reported within 300 m:",
    "ux.hazard_line": "{category} · {distance} · {status} · {n} reported",
    "ux.me_too": "👍 I saw it too: {category}",
    "ux.me_too_far": "Only people nearby can confirm this. Share your current location first.",
    "ux.me_too_yours": "You reported this one; you will hear how it goes.",
    "ux.me_too_done": "👍 Thanks! Noted: {n} people reported it now.",
    "ux.me_too_again": "You confirmed it already; {n} people reported it.",
    "ux.resubmit_btn": "🔁 Report again",
    "ux.resubmit": "🔁 Reporting {ref} again with its {photos} photo(s) and place. Add what was missing (see the "
    "reason it was sent back), then submit.",
    "ux.timeline_head": "🕒 {ref} {category} · {status}",
    "ux.timeline_line": "{when} {who}: {step}",
    "ux.timeline_note": " ({note})",
    "ux.after_photo": "✅ {ref} after the work",
    "ux.step.create": "reported",
    "ux.step.route": "forwarded",
    "ux.step.accept": "accepted",
    "ux.step.transfer": "transferred",
    "ux.step.resolve": "resolved",
    "ux.step.reject": "sent back",
    "ux.step.confirm": "rated",
    "ux.step.reopen": "asked to reopen",
    "ux.step.escalate": "escalated (overdue)",
    "ux.step.merge": "merged into an earlier report",
    "ux.step.join": "added a report",
    "ux.step.confirm_seen": "👍 saw it too",
    "ux.role.system": "system",
    "ux.role.you": "you",
    "ux.role.rider": "a rider",
    "ux.role.worker": "grid worker",
    "ux.role.supervisor": "community/street",
    "ux.role.department": "department",
    "ux.role.admin": "admin",
    "ux.role.keeper": "station keeper",
    "ux.role.staff": "staff",
}
