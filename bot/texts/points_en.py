"""Points, rewards and redemption codes (English)."""

TEXTS = {
    "cmd.redeem": "Confirm a reward code",
    "points.recent": "Recent:",
    "points.how": (
        "How to earn points:\n"
        "• a 随手拍 report a grid worker accepts +{valid}, joining the same problem +{joined}\n"
        "• a correction of station data (⚠️ Wrong info) that is confirmed +{correction}"
    ),
    "points.reason.spent": "redeemed {note}",
    "points.reason.correction": "correction: {note}",
    "points.kind.earned": "earned",
    "points.kind.spent": "spent",
    "points.kind.expired": "expired",
    "points.kind.adjusted": "adjusted by an admin",
    "points.need_location": "📍 Share your location to see rewards nearby.",
    "points.none_near": "No rewards within 5 km right now.",
    "points.near": "🎁 Rewards nearby:",
    "points.reward_line": "{n}. {name} · {place} · {cost} points · {distance}",
    "points.btn_redeem": "Redeem {n}. {name}",
    "redeem.gone": "😕 This reward is no longer offered or not valid today.",
    "redeem.not_enough": "😕 Not enough points: this reward costs {cost}.",
    "redeem.out_of_stock": "😕 Today's stock is gone; come back tomorrow.",
    "redeem.code": (
        "🎫 Code: {code}\n"
        "Reward: {name} ({place})\n"
        "Show it to the station keeper before {until}. {cost} points are taken when the keeper confirms."
    ),
    "redeem.qr_caption": "Code {code}",
    "redeem.usage": "Send “/redeem CODE” with the six digits, e.g. “/redeem 123456”.",
    "redeem.unknown": "❌ No such code; please check the six digits.",
    "redeem.rate_limited": "⏳ Too many codes that do not exist; please try again in {minutes} minutes.",
    "redeem.other_place": "⛔ This code is for “{place}”, not for your station.",
    "redeem.used": "⚠️ This code has been used already; each code works once.",
    "redeem.expired": "⌛ This code has expired (valid 30 minutes); the rider can make a new one.",
    "redeem.balance": "😕 The rider no longer has enough points (needs {cost}, has {balance}).",
    "redeem.confirmed": "✅ Confirmed: {name}, {cost} points taken from the rider.",
    "redeem.rider_done": "✅ Redeemed: {name}. {cost} points taken, {balance} left.",
    # the rewards file
    "csv.reward_unknown_place": "{column}: no place with id “{value}”",
    "csv.reward_bad_number": "{column}: “{value}” is out of range (cost above 0, stock not negative)",
    "csv.reward_bad_date": "{column}: date “{value}” should look like 2026-12-01",
    "csv.reward_bad_period": "{column}: starts after it ends ({value})",
    "csv.reward_duplicate": "{column}: the same reward twice for one place ({value})",
    "cli.rewards_imported": "✅ Imported {path}: {rows} rewards, {retired} retired.",
    "cli.rewards_not_imported": "❌ The rewards file has errors; nothing was imported.",
    "cli.points_unknown_user": "No such user: {user} (a number, or telegram:EXTERNAL_ID)",
    "cli.points_balance": "User {user} ({name}) balance: {balance}",
    "cli.points_adjusted": "✅ Adjusted by {delta:+d}, balance {balance}.",
    "cli.points_need_reason": "An adjustment needs a reason (--reason).",
}
