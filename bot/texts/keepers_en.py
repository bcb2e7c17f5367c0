"""Station keepers, live status, corrections, suggestions (English)."""

TEXTS = {
    # roles and invites
    "role.keeper": "station keeper",
    "cmd.suggest": "Suggest a new place",
    "role.scope_unknown_place": "There is no place with id “{scope}” (a station keeper's scope must be a place).",
    # live lines in riders' answers
    "live.just_now": "just now",
    "live.minutes_ago": "{n} min ago",
    "live.hours_ago": "{n} h ago",
    "live.days_ago": "{n} days ago",
    "live.updated": "🕒 station updated {ago}",
    "live.disputed": "⚠️ To be verified: several riders say this information may be wrong",
    "live.status.closed": "⛔ Closed today",
    "live.status.full": "🈵 Full, no seats right now",
    "live.status.no_power": "🔌❌ No power today: no charging",
    "live.status.no_water": "💧❌ No water today",
    "live.until": ", back at {time}",
    "live.note": "📝 {note}",
    "live.entrance_photo": "📷 The entrance of “{name}”",
    # the keeper's card and commands
    "keeper.status.open": "✅ Open",
    "keeper.status.closed": "⛔ Closed today",
    "keeper.status.full": "🈵 Full",
    "keeper.status.no_power": "🔌 No power",
    "keeper.status.no_water": "💧 No water",
    "keeper.status_word.open": "open|normal",
    "keeper.status_word.closed": "closed|shut",
    "keeper.status_word.full": "full",
    "keeper.status_word.no_power": "no_power|nopower|power",
    "keeper.status_word.no_water": "no_water|nowater|water",
    "keeper.card_title": "🏠 Station keeping",
    "keeper.card_help": (
        "Tap a button below to set today's status. You can also send:\n"
        "/hours 08:00-22:00 — opening hours\n"
        "/amenities water charging microwave — amenities\n"
        "/phone 0516-12345678 — phone\n"
        "/status closed 14:00 power repair — status, back-at time and a note"
    ),
    "keeper.btn_confirm": "👍 All correct",
    "keeper.btn_photo": "📷 Entrance photo",
    "keeper.btn_skip": "Skip",
    "keeper.saved": "✅ “{name}” updated: riders see it right away.",
    "keeper.confirmed": "👍 Confirmed as correct, thank you!",
    "keeper.skipped": "OK",
    "keeper.ask_note": "Optional: reply with a back-at time and a note, e.g. “14:00 power repair”. Or tap “Skip”.",
    "keeper.ask_photo": "📷 Please send a photo of the entrance of “{name}” so riders find it.",
    "keeper.bad_photo": "😕 That photo cannot be used; please send a JPG or PNG photo.",
    "keeper.not_keeper": "You are not a station keeper yet. If an admin gave you an invite code, send “/join CODE”.",
    "keeper.not_yours": "⛔ You are not a keeper of “{place}” and cannot change it. Nothing was changed.",
    "keeper.which_place": "You keep several places: add the place id, e.g. “/station ID”. Your places: {ids}",
    "keeper.bad_hours": "😕 Cannot read the hours “{text}”. Write 08:00-22:00, or 24h. Nothing was changed.",
    "keeper.usage_hours": "Add the hours after /hours, e.g. “/hours 08:00-22:00”.",
    "keeper.bad_amenities": (
        "😕 Unknown amenities: {words}. Known: water, charging, microwave, toilet, rest, aircon, umbrella,"
        " first_aid, wifi … Nothing was changed."
    ),
    "keeper.usage_amenities": "Add the amenities after /amenities, e.g. “/amenities water charging microwave”.",
    "keeper.bad_phone": (
        "😕 The phone number “{text}” is not right: digits and - only, e.g. “/phone 0516-12345678”."
        " Nothing was changed."
    ),
    "keeper.usage_status": (
        "Add a status, e.g. “/status closed 14:00 power repair”. Known: open, closed, full, no_power, no_water."
    ),
}
TEXTS.update(
    {
        # riders' corrections
        "flag.btn": "⚠️ Wrong info",
        "flag.ask": "What is wrong with “{name}”?",
        "flag.reason.closed": "⛔ Closed",
        "flag.reason.moved": "🚚 Moved",
        "flag.reason.no_water": "💧 No water",
        "flag.reason.no_power": "🔌 No charging",
        "flag.reason.wrong_phone": "📞 Wrong phone",
        "flag.reason.not_let_in": "🚫 Riders not let in",
        "flag.reason.other": "✏️ Other",
        "flag.ask_other": "Please say in a sentence what is wrong, or send a photo.",
        "flag.thanks": "🙏 Thank you! Sent to the keeper of “{name}” to check; you will hear the outcome.",
        "flag.already": "You reported this place within the last 24 hours; it is waiting to be checked.",
        "flag.notice": "⚠️ A rider says the information on “{name}” ({id}) is wrong: {reason}",
        "flag.notice_note": "The rider says: {note}",
        "flag.btn_right": "✅ Right (handled)",
        "flag.btn_wrong": "❎ Not right",
        "flag.already_resolved": "This report was handled already.",
        "flag.done": "Done; the rider has been told.",
        "flag.done_fix": "The rider has been told. Please fix the data with /station {id}, /phone, /hours …; the "
        "“to be verified” mark goes once you do.",
        "flag.rider_right": "✅ Your report on “{name}” was confirmed, thank you! You earned {points} points.",
        "flag.rider_wrong": "ℹ️ The keeper of “{name}” checked and found the information correct. Thank you!",
    }
)
TEXTS.update(
    {
        # riders suggest a new place
        "suggest.ask_location": "📍 Please send the new place's location (tap “Send location”, or pick it on the map).",
        "suggest.outside_china": "That location is outside China; please send it again.",
        "suggest.ask_name": "What is it called? (e.g. “XX compound rider station”)",
        "suggest.bad_name": "The name cannot be empty and has at most {max} characters; please type it again.",
        "suggest.ask_kind": "What kind of place is it?",
        "suggest.ask_photo": "📷 Please send a photo of the entrance so admins can check it and riders find it.",
        "suggest.thanks": "🙏 Thank you! “{name}” was sent; you will hear when an admin has looked at it.",
        "suggest.notice": "🆕 A rider suggests a new place: {name} ({kind})\nLocation: {lat:.5f}, {lon:.5f}\nBy: {who}",
        "suggest.btn_approve": "✅ Approve",
        "suggest.btn_decline": "❎ Decline",
        "suggest.admins_only": "Only admins can approve suggested places.",
        "suggest.already": "This suggestion was handled already.",
        "suggest.approved": "✅ Approved: “{name}” is on the map (id {id}); riders find it right away.",
        "suggest.declined": "Declined “{name}”; the rider has been told.",
        "suggest.rider_approved": "🎉 “{name}”, the place you suggested, was approved: everyone can find it now.",
        "suggest.rider_declined": "ℹ️ “{name}”, the place you suggested, was not approved. Thanks for suggesting it!",
    }
)
TEXTS.update(
    {
        # places nobody confirmed for a long time
        "digest.stale": "📍 {n} places unconfirmed for {days}+ days: {names} (rider-bot stations stale --days {days})",
        "cli.stale_none": "No place has gone unconfirmed for more than {days} days.",
        "cli.stale_header": "{n} places not confirmed for over {days} days (id, name, last confirmed, by):",
    }
)
