"""Points, rewards and redemption codes (zh-CN)."""

TEXTS = {
    "cmd.redeem": "核销兑换码",
    "points.recent": "最近变动：",
    "points.how": (
        "怎样赚积分：\n"
        "• 随手拍上报被网格员受理 +{valid}，补充同一问题 +{joined}\n"
        "• 纠正驿站信息（⚠️ 信息有误）被确认 +{correction}"
    ),
    "points.reason.spent": "兑换 {note}",
    "points.reason.correction": "纠正信息：{note}",
    "points.kind.earned": "获得",
    "points.kind.spent": "兑换",
    "points.kind.expired": "过期",
    "points.kind.adjusted": "管理员调整",
    "points.need_location": "📍 发送你的位置，看看附近能兑换什么。",
    "points.none_near": "附近 5 公里内暂时没有可兑换的奖励。",
    "points.near": "🎁 附近可兑换：",
    "points.reward_line": "{n}. {name} · {place} · {cost} 积分 · {distance}",
    "points.btn_redeem": "兑换 {n}. {name}",
    "redeem.gone": "😕 这个奖励已经下架或不在有效期内。",
    "redeem.not_enough": "😕 积分不够：兑换需要 {cost} 积分。",
    "redeem.out_of_stock": "😕 今天的份数已经兑完了，明天再来吧。",
    "redeem.code": (
        "🎫 兑换码：{code}\n"
        "奖励：{name}（{place}）\n"
        "到驿站出示这个码给站长，{until} 前有效。站长确认后扣除 {cost} 积分。"
    ),
    "redeem.qr_caption": "兑换码 {code}",
    "redeem.usage": "请发送「/redeem 六位兑换码」，例如「/redeem 123456」。",
    "redeem.unknown": "❌ 没有这个兑换码，请核对六位数字。",
    "redeem.rate_limited": "⏳ 核销失败次数太多，请 {minutes} 分钟后再试。",
    "redeem.other_place": "⛔ 这是「{place}」的兑换码，不能在你的驿站核销。",
    "redeem.used": "⚠️ 这个兑换码已经用过了，每个码只能用一次。",
    "redeem.expired": "⌛ 这个兑换码已过期（30 分钟有效），请骑手重新生成。",
    "redeem.balance": "😕 骑手的积分已不够（需要 {cost}，现有 {balance}），不能兑换。",
    "redeem.confirmed": "✅ 已核销：{name}，扣除骑手 {cost} 积分。",
    "redeem.rider_done": "✅ 兑换成功：{name}，扣除 {cost} 积分，剩余 {balance} 积分。",
    # the rewards file
    "csv.reward_unknown_place": "{column}：没有编号为「{value}」的地点",
    "csv.reward_bad_number": "{column}：「{value}」超出范围（积分必须大于 0，份数不能为负）",
    "csv.reward_bad_date": "{column}：日期「{value}」格式不对（应为 2026-12-01）",
    "csv.reward_bad_period": "{column}：开始日期晚于结束日期（{value}）",
    "csv.reward_duplicate": "{column}：同一地点的奖励重复（{value}）",
    "cli.rewards_imported": "✅ 已导入 {path}：{rows} 个奖励，下架 {retired} 个。",
    "cli.rewards_not_imported": "❌ 奖励清单有错误，什么都没有导入。",
    "cli.points_unknown_user": "没有这个用户：{user}（用数字编号，或 telegram:外部编号）",
    "cli.points_balance": "用户 {user}（{name}）积分余额：{balance}",
    "cli.points_adjusted": "✅ 已调整 {delta:+d}，余额 {balance}。",
    "cli.points_need_reason": "调整积分必须写原因（--reason）。",
}
