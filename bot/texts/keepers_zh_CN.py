"""Station keepers, live status, corrections, suggestions (zh-CN)."""

TEXTS = {
    # roles and invites
    "role.keeper": "驿站管理员",
    "cmd.suggest": "推荐新地点",
    "role.scope_unknown_place": "没有编号为「{scope}」的地点（驿站管理员的范围必须是一个地点）。",
    # live lines in riders' answers
    "live.just_now": "刚刚",
    "live.minutes_ago": "{n} 分钟前",
    "live.hours_ago": "{n} 小时前",
    "live.days_ago": "{n} 天前",
    "live.updated": "🕒 驿站 {ago}更新",
    "live.disputed": "⚠️ 待核实：多位骑手反映信息可能有误",
    "live.status.closed": "⛔ 今日闭站",
    "live.status.full": "🈵 已满，暂时没有位置",
    "live.status.no_power": "🔌❌ 今日停电，无法充电",
    "live.status.no_water": "💧❌ 今日停水",
    "live.until": "，预计 {time} 恢复",
    "live.note": "📝 {note}",
    "live.entrance_photo": "📷 「{name}」入口",
    # the keeper's card and commands
    "keeper.status.open": "✅ 正常开放",
    "keeper.status.closed": "⛔ 今日闭站",
    "keeper.status.full": "🈵 已满",
    "keeper.status.no_power": "🔌 停电",
    "keeper.status.no_water": "💧 停水",
    "keeper.status_word.open": "open|正常|营业|开放|开门",
    "keeper.status_word.closed": "closed|闭站|关闭|关门|休息",
    "keeper.status_word.full": "full|已满|满员|满",
    "keeper.status_word.no_power": "no_power|nopower|停电|没电",
    "keeper.status_word.no_water": "no_water|nowater|停水|没水",
    "keeper.card_title": "🏠 驿站管理",
    "keeper.card_help": (
        "点下面的按钮设置今天的状态。也可以发送：\n"
        "/hours 08:00-22:00 — 营业时间\n"
        "/amenities 饮水 充电 微波炉 — 设施\n"
        "/phone 0516-12345678 — 电话\n"
        "/status 闭站 14:00 电路检修 — 状态、恢复时间和备注"
    ),
    "keeper.btn_confirm": "👍 信息无误",
    "keeper.btn_photo": "📷 入口照片",
    "keeper.btn_skip": "跳过",
    "keeper.saved": "✅ 已更新「{name}」，骑手马上就能看到。",
    "keeper.confirmed": "👍 已确认信息无误，谢谢！",
    "keeper.skipped": "好的",
    "keeper.ask_note": "可选：回复恢复时间和备注，例如「14:00 电路检修」。不需要就点「跳过」。",
    "keeper.ask_photo": "📷 请发送「{name}」入口的照片，方便骑手找到。",
    "keeper.bad_photo": "😕 这张照片无法使用，请换一张 JPG 或 PNG 照片。",
    "keeper.not_keeper": "你还不是驿站管理员。如果管理员给了你邀请码，请发送「/join 邀请码」。",
    "keeper.not_yours": "⛔ 你不是「{place}」的管理员，不能修改它。没有做任何更改。",
    "keeper.which_place": "你管理多个地点，请在命令后写上地点编号，例如「/station 编号」。你的地点：{ids}",
    "keeper.bad_hours": "😕 看不懂营业时间「{text}」。请写成 08:00-22:00，或 24h。没有做任何更改。",
    "keeper.usage_hours": "请在 /hours 后写营业时间，例如「/hours 08:00-22:00」。",
    "keeper.bad_amenities": (
        "😕 不认识的设施：{words}。可用：饮水、充电、微波炉、卫生间、休息、空调、雨伞、医药箱、Wi-Fi 等。"
        "没有做任何更改。"
    ),
    "keeper.usage_amenities": "请在 /amenities 后写设施，例如「/amenities 饮水 充电 微波炉」。",
    "keeper.bad_phone": "😕 电话号码「{text}」不对，请只写数字和 -，例如「/phone 0516-12345678」。没有做任何更改。",
    "keeper.usage_status": "请写状态，例如「/status 闭站 14:00 电路检修」。可用：正常、闭站、已满、停电、停水。",
}
TEXTS.update(
    {
        # riders' corrections
        "flag.btn": "⚠️ 信息有误",
        "flag.ask": "「{name}」哪里不对？",
        "flag.reason.closed": "⛔ 没开门",
        "flag.reason.moved": "🚚 搬走了",
        "flag.reason.no_water": "💧 没有水",
        "flag.reason.no_power": "🔌 不能充电",
        "flag.reason.wrong_phone": "📞 电话不对",
        "flag.reason.not_let_in": "🚫 不让骑手进",
        "flag.reason.other": "✏️ 其他",
        "flag.ask_other": "请用一句话说明哪里不对，或者发一张照片。",
        "flag.thanks": "🙏 谢谢！已转给「{name}」的管理员核实，核实后会告诉你结果。",
        "flag.already": "你在 24 小时内已经反馈过这个地点了，正在等待核实。",
        "flag.notice": "⚠️ 骑手反映「{name}」（{id}）信息有误：{reason}",
        "flag.notice_note": "骑手说：{note}",
        "flag.btn_right": "✅ 属实（已处理）",
        "flag.btn_wrong": "❎ 不属实",
        "flag.already_resolved": "这条反馈已经处理过了。",
        "flag.done": "已处理，已告诉骑手。",
        "flag.done_fix": "已告诉骑手。请用 /station {id}、/phone、/hours 等命令改正信息，改正后「待核实」会消失。",
        "flag.rider_right": "✅ 你反映的「{name}」的问题已确认属实，谢谢！你获得 {points} 积分。",
        "flag.rider_wrong": "ℹ️ 「{name}」的管理员核实后认为信息无误。谢谢你的反馈！",
    }
)
TEXTS.update(
    {
        # riders suggest a new place
        "suggest.ask_location": "📍 请发送新地点的位置（点下面的「发送位置」，或在地图上选点）。",
        "suggest.outside_china": "这个位置不在中国境内，请重新发送。",
        "suggest.ask_name": "它叫什么名字？（例如「xx 小区骑手驿站」）",
        "suggest.bad_name": "名字不能为空，最多 {max} 个字，请重新输入。",
        "suggest.ask_kind": "它是哪一类地点？",
        "suggest.ask_photo": "📷 请发一张门口的照片，方便管理员核实、骑手找到。",
        "suggest.thanks": "🙏 谢谢！「{name}」已提交，管理员审核后会告诉你结果。",
        "suggest.notice": "🆕 骑手推荐新地点：{name}（{kind}）\n位置：{lat:.5f}, {lon:.5f}\n推荐人：{who}",
        "suggest.btn_approve": "✅ 通过",
        "suggest.btn_decline": "❎ 不通过",
        "suggest.admins_only": "只有管理员可以审核推荐的地点。",
        "suggest.already": "这条推荐已经处理过了。",
        "suggest.approved": "✅ 已通过：「{name}」已加入地图（编号 {id}），骑手马上就能找到。",
        "suggest.declined": "已不通过「{name}」，已告诉骑手。",
        "suggest.rider_approved": "🎉 你推荐的「{name}」已通过审核，现在大家都能找到它了。谢谢！",
        "suggest.rider_declined": "ℹ️ 你推荐的「{name}」没有通过审核。谢谢你的推荐！",
    }
)
TEXTS.update(
    {
        # places nobody confirmed for a long time
        "digest.stale": "📍 {n} 个地点超过 {days} 天没有人确认：{names}（rider-bot stations stale --days {days}）",
        "cli.stale_none": "没有超过 {days} 天未确认的地点。",
        "cli.stale_header": "{n} 个地点超过 {days} 天未确认（编号、名称、最后确认、确认方）：",
    }
)
