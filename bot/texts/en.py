"""English — the second language."""

TEXTS: dict[str, str] = {
    "kb.send_location": "📍 Send location",
    "kb.stations": "🏠 Rest stations",
    "kb.friendly": "🤝 Friendly places",
    "kb.help": "❓ Help",
    "kb.placeholder": "Send a location or type a place",
    "cmd.start": "Start",
    "cmd.help": "How to use",
    "cmd.lang": "切换语言 / Language",
    "start.greeting": (
        "Hello{name}! I'm the rider helper 🛵\n"
        "Water when thirsty, a seat when tired, power when the battery is flat: send your location and I'll find "
        "the nearest rest stations, and rider-friendly communities, merchants and hospitals.\n\n"
        "👇 Tap “📍 Send location”, or type a place name (e.g. 米兰社区)."
    ),
    "help.text": (
        "🛵 Rider helper\n\n"
        "📍 Send location: the nearest rest stations with distance, riding time, opening hours and amenities.\n"
        "🏠 Rest stations / 🤝 Friendly places: search around your last location.\n"
        "🔎 Filter: only places with charging, water, a toilet…\n"
        "⌨️ Type a place name: e.g. 米兰社区, 绿城深蓝, Xuzhou; short names and traditional characters work.\n"
        "🔴 Live location: share it and the list follows you.\n"
        "📸 Report: snap a hazard (blocked fire lane, flying-lead charging…); it goes to the grid worker in charge "
        "and you hear about every step.\n"
        "/myreports · /points · /cancel\n\n"
        "/lang switches 中文 / English\n"
        "Coordinates are approximate; trust what you see on site."
    ),
    "lang.switched": "Switched to English.",
    "scope.stations": "rest stations",
    "scope.friendly": "friendly communities, merchants and hospitals",
    "scope.all": "places",
    "nearest.header": "📍 Nearest {scope}",
    "nearest.header_page": "📍 Further {scope} (page {page})",
    "nearest.filter": " (filter: {amenity})",
    "nearest.none_nearby": "😕 No {scope}{filter} within {radius}. The nearest one is here:",
    "nearest.no_more": "Nothing further.",
    "nearest.empty": "No places loaded yet; please ask an administrator to import them.",
    "nearest.outside_china": (
        "🌊 This location ({lat:.4f}, {lon:.4f}) is outside our service area (cities in China).\n"
        "Please check your phone's location and send it again."
    ),
    "nearest.approx": "ℹ️ Coordinates are approximate; trust what you see on site.",
    "nearest.live": "🔴 Live location on: the list updates as you move.",
    "need_location": "Please send your location first: tap “📍 Send location” below.",
    "dist.m": "{m} m",
    "dist.km": "{km:.1f} km",
    "ride": "≈{min} min by e-bike",
    "open.always": "🟢 Open 24h",
    "open.open": "🟢 Open, closes {time}",
    "open.open_next_day": "🟢 Open, closes {time} tomorrow",
    "open.closed": "🔴 Closed, opens {time}",
    "open.closed_next_day": "🔴 Closed, opens {time} tomorrow",
    "open.unknown": "⚪ Hours unknown",
    "place.address": "📫 {address}",
    "place.hours": "🕒 {hours}",
    "place.amenities": "Amenities: {items}",
    "place.policy": "Rider-friendly: {items}",
    "place.phone": "☎ {phone}",
    "place.notes": "📝 {notes}",
    "place.approx": "(approximate location)",
    "place.route_map": "🗺 Friendly delivery route map",
    "nav.text": "🧭 Navigate to “{name}”\nAmap: {amap}\nAny map app: {geo}",
    "btn.venue": "📍{n} Map",
    "btn.detail": "ℹ️{n}",
    "btn.nav": "🧭 Navigate",
    "btn.more": "➡️ Further",
    "btn.filter": "🔎 Filter",
    "btn.filter_clear": "✖ Any amenity",
    "btn.stations": "🏠 Stations",
    "btn.friendly": "🤝 Friendly places",
    "btn.nearby": "📍 Nearby",
    "filter.prompt": "Show only {scope} with:",
    "search.choose": "Several places match “{q}”; pick one:",
    "search.none": "Nothing found for “{q}”.\nSend your location, or type the name of a community, station or mall.",
    "search.geocoded": "🗺 Found “{name}” on the map; {scope} nearby:",
    "search.too_long": "That is too long. Type a short place name (up to {max} characters), or send your location.",
    "callback.expired": "This button has expired; please send your location again.",
    "unsupported": "I understand locations and text. Send your location, or type a place name.",
    "file.too_big": "The file is too big ({size} MB); the limit is {max} MB.",
    "error.generic": "Sorry, something went wrong. Please try again later.",
    "flood.slow_down": "You are sending messages too fast; please wait a few seconds.",
    "group.private_only": "Please talk to me in a private chat: open my profile and send your location.",
    "cli.valid": "✔ {path}: all {rows} rows valid.",
    "cli.invalid": "✘ {path}: {count} problem(s) in {rows} rows.",
    "cli.imported": "✔ Imported {path}: {inserted} new, {updated} updated, {total} places in all.",
    "cli.not_imported": "Nothing was imported (all or nothing).",
    "cli.no_results": "No results.",
    "csv.line": "line {line}",
    "csv.empty_file": "the file is empty",
    "csv.not_utf8": "not UTF-8 encoded",
    "csv.missing_columns": "missing required column(s): {column}",
    "csv.unknown_columns": "unknown column(s): {column}",
    "csv.field_count": "wrong number of fields (expected/found {value})",
    "csv.missing_field": "{column}: required value missing",
    "csv.too_long": "{column}: value too long ({value} characters)",
    "csv.control_chars": "{column}: contains control characters",
    "csv.bad_id": "{column}: id “{value}” may only use letters, digits and -_.",
    "csv.unknown_kind": "{column}: unknown kind “{value}”",
    "csv.unknown_crs": "{column}: unknown coordinate system “{value}” (wgs84, gcj02 or bd09)",
    "csv.not_a_number": "{column}: “{value}” is not a number",
    "csv.out_of_range": "{column}: “{value}” is out of range",
    "csv.outside_china": "coordinates {value} are outside China",
    "csv.unknown_amenity": "{column}: unknown amenity “{value}”",
    "csv.unknown_policy": "{column}: unknown rider policy “{value}”",
    "csv.bad_hours": "{column}: bad opening hours “{value}” (use 08:00-22:00 or 24h; ; between ranges)",
    "csv.bad_flag": "{column}: “{value}” must be 1 or 0",
    "csv.bad_route_map": "{column}: “{value}” must be a PNG/JPG path under data/ or an https link",
    "csv.duplicate_id": "{column}: duplicate id ({value})",
    # people: roles and invites (/join, /whoami, `rider-bot invite`)
    "role.worker": "grid worker",
    "role.supervisor": "supervisor",
    "role.department": "department contact",
    "role.admin": "administrator",
    "role.with_scope": "{role}: {scope}",
    "role.grid_in": "{grid}, {area}",
    "role.whoami": "👤 You are a rider, and also:\n{lines}",
    "role.whoami_line": "• {role}",
    "role.whoami_rider": (
        "👤 You are a rider.\nIf an administrator gave you an invite code, send “/join CODE” to join"
        " (for example as a grid worker)."
    ),
    "role.scope_unknown_role": "unknown role “{role}” (use worker, supervisor, department or admin).",
    "role.scope_unknown_grid": "there is no grid with id “{scope}” (a grid worker's scope must be a grid).",
    "role.scope_unknown_area": (
        "there is no community or street with id “{scope}” (a supervisor's scope must be a community or street)."
    ),
    "role.scope_unknown_department": "there is no department with code “{scope}”. Departments: {departments}",
    "role.scope_admin_scope": "administrators have no scope; do not give a grid, scope or department.",
    "join.usage": (
        "Put the invite code your administrator gave you after /join, for example:\n/join K7P2-9XQM-4HTW-B3ZD\n"
        "Upper or lower case, with or without the dash."
    ),
    "join.ok": "✅ Your new role: {role}",
    "join.invalid": (
        "❌ That code is not right. Please check it and try again (case does not matter; O and 0 are the same)."
    ),
    "join.expired": "⌛ This invite code has expired. Please ask your administrator for a new one.",
    "join.used": "⚠️ This invite code has already been used; each code works once. Ask your administrator if unsure.",
    "join.rate_limited": "⏳ Too many attempts. Please try again in {minutes} minutes.",
    "invite.created": (
        "✔ Invite code: {code}\nRole: {role}\nValid until: {expires} ({tz})\n"
        "One use only. Tell the person in person or by phone, and have them send the bot: /join {code}"
    ),
    "invite.missing_option": "--role {role} needs {option}.",
    "invite.bad_ttl": "--ttl-hours must be greater than 0.",
    # grids — import errors and CLI
    "grids.unknown_level": "{column}: unknown level '{value}' (street, community or grid)",
    "grids.missing_parent": "{column}: communities and grids need a parent id (a {value})",
    "grids.street_parent": "{column}: a street is the top level and has no parent ('{value}')",
    "grids.unknown_parent": "{column}: parent '{value}' is neither in this file nor in the database",
    "grids.parent_level": "{column}: parent at the wrong level ({value}); a grid's parent is a community, "
    "a community's a street",
    "grids.outside_parent": "{column}: mostly outside its parent ({value} inside; at least 90% must be)",
    "grids.level_changed": "{column}: the level cannot change ({value}) while the database has children under it",
    "grids.bad_group_chat": "{column}: group chat '{value}' must be empty, a numeric chat id "
    "(e.g. -1001234567890) or an @username",
    "grids.bad_geometry": "{column}: unreadable boundary ({value}); use WKT (POLYGON((lon lat, …))) or GeoJSON",
    "grids.not_polygon": "{column}: the boundary must be a Polygon or MultiPolygon, not '{value}'",
    "grids.empty_geometry": "{column}: the boundary is empty",
    "grids.open_ring": "{column}: the boundary ring is not closed; the first and last vertex must match "
    "(first: {value})",
    "grids.too_few_vertices": "{column}: a boundary needs at least 3 distinct vertices (it has {value})",
    "grids.invalid_geometry": "{column}: invalid boundary ({value}), e.g. edges crossing",
    "grids.outside_china": "{column}: vertex '{value}' is outside China (WKT and GeoJSON put longitude first)",
    "grids.imported": "✔ Imported {path}: {inserted} new, {updated} updated, {total} streets, communities "
    "and grids in all.",
    "grids.no_file": "No such file: {path}",
    # WeChat official account (handlers/wechat/)
    "wechat.welcome": (
        "Hello, and welcome to Rider Helper 🛵\n"
        "Water when you're thirsty, a seat when you're tired, power when your battery is flat: send your location "
        '(tap "+" next to the input box → Location) and I\'ll find the nearest rest stations, plus rider-friendly '
        "communities, merchants and hospitals.\n"
        'Seen a hazard? Tap "Report" in the menu or just send a photo. Reply "help" for everything I can do.'
    ),
    "wechat.help": (
        "🛵 How to use Rider Helper\n\n"
        '📍 Send your location ("+" → Location): the nearest rest stations with distance, riding time, '
        "opening hours and amenities.\n"
        '🏠 Reply "stations", 🤝 "friendly": search around your last location.\n'
        "⌨️ Type a place name, e.g. 米兰社区, for details and a navigation link.\n"
        "📸 Report a hazard: send a photo (blocked fire lane, flying-lead charging, …), add the place and the "
        "category as asked; it goes to the grid worker in charge and you are told every step.\n"
        'Reply "my reports", "points", "cancel"; /lang switches 中文 / English.\n'
        "The menu below works too. Coordinates are approximate; trust what you see on site."
    ),
    "wechat.need_location": 'Please send your location first: tap "+" next to the input box → Location.',
    "wechat.location_hint": '📍 Tap "+" next to the input box → Location; or reply "use last location" or "cancel".',
    "wechat.nearest_hint": "Reply with a place name for details and a navigation link.",
    "wechat.unsupported": "I understand text, locations and pictures. Send your location, or type a place name.",
    "wechat.bad_location": "I could not read that location; please send it again.",
    "wechat.link": "🔗 {label}: {url}",
    "wechat.venue": "📍 {title}\n{address}\n🧭 Amap: {amap}",
    "wechat.choose_more": "{n} more not listed; please type a fuller name.",
    "wechat.cmd.help": "start|help|menu|?",
    "wechat.cmd.stations": "stations|nearby stations",
    "wechat.cmd.friendly": "friendly|friendly places",
    "wechat.cmd.report": "report",
    "wechat.cmd.my_reports": "my reports|myreports",
    "wechat.cmd.points": "points|my points",
    "wechat.cmd.cancel": "cancel",
    "wechat.cmd.lang": "lang|language|english",
    "wechat.cmd.use_last": "use last location|last location",
    "wechat.cmd.queue": "queue",
    "wechat.cmd.whoami": "whoami",
    "wechat.cmd.join": "join",
    "wechat.menu.stations": "Stations",
    "wechat.menu.friendly": "Friendly",
    "wechat.menu.reports": "Report",
    "wechat.menu.report": "📸 Snap a hazard",
    "wechat.menu.my_reports": "My reports",
    "wechat.cli.published": "✔ Custom menu published ({buttons} buttons).",
    "wechat.cli.failed": "✘ Publishing failed: {error}",
    "wechat.cli.not_configured": "Set RIDER_WECHAT_APPID and RIDER_WECHAT_SECRET first (or wechat_appid and "
    "wechat_secret in the config file).",
    "error.storage": "⚠️ Could not save just now, so that step did not take effect (a storage problem on our side). "
    "Please try again in a moment.",
}
