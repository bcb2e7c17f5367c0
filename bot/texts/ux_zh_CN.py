"""简体中文: the second pass for riders and grid workers (issue #13): cards, deadlines, menus, first answers."""

TEXTS: dict[str, str] = {
    "cmd.station": "我的驿站（站长）",
    "ux.route": "🧭 路线",
    "ux.deadline.accept": "{limit}内接单 · 还剩 {left}",
    "ux.deadline.accept_over": "{limit}内接单 · 已超时 {over}",
    "ux.deadline.resolve": "{limit}内办结 · 还剩 {left}",
    "ux.deadline.resolve_over": "{limit}内办结 · 已超时 {over}",
    "ux.origin.transfer": "🔀 由 {who} 转派：{note}",
    "ux.origin.escalation": "🚨 由 {who} {phase}超时 {over}，社区吹哨转交",
    "ux.joined_photos": "➕ {ref} 又有 1 人反映，补充了 {n} 张照片",
    "ux.stats.title": "📊 统计（{date}）",
    "ux.stats.area": (
        "【{scope}】\n今日 新增 {new_today} · 办结 {resolved_today}\n"
        "昨日 新增 {new_yesterday} · 办结 {resolved_yesterday}\n在办 {open} · 超时 {overdue} · 按时率 {on_time}"
    ),
    "ux.stats.quiet": "另有 {n} 个区域今日和昨日都没有工单，未列出。",
    "ux.stats.all_quiet": "🎉 今日和昨日都没有工单，也没有在办工单。",
    "ux.ride_short": "骑行 {min} 分钟",
    "ux.opens_at": "🔴 {time} 开门",
    "ux.farther": "更远：",
    "ux.approx_short": "ℹ️ 坐标为大致位置",
    "ux.outside_coverage": (
        "😕 这里附近还没有驿站数据。\n目前覆盖：{cities}。\n"
        "知道附近的驿站或友好商家？发送 /suggest 推荐（或告诉当地网格员），核实后就会出现在这里。"
    ),
    "ux.details": "ℹ️ 详情",
    "ux.more_filters": "🔎 更多",
    "ux.prev": "⬅️ 上一页",
    "ux.nearest": "🏠 最近",
    "ux.hello": "你好！👋 我是骑手助手。\n发送位置找最近的驿站，或直接说「充电」「厕所」「喝水」「热饭」「休息」。",
    "ux.thanks": "不客气！骑行注意安全 🛵",
    "ux.near_place": "{place}附近（{distance}）",
    "ux.stale": (
        "📍 你上次的位置：{where}，{time}（{ago}前）。\n还在那里吗？用这个位置，或点下方「📍 发送位置」重新发送。"
    ),
    "ux.use_this": "✅ 用这个位置",
    "ux.need_location_for": "好的，找有{amenity}的驿站。请先发送你的位置：点下方「📍 发送位置」。",
    "ux.city_head": "🏙 {city}：市中心附近的{scope}",
    "ux.report_outside": (
        "这个位置不在我们的服务范围内（目前覆盖：{cities}），没有网格员能处理这里的问题。\n"
        "请确认定位后重新发送；紧急情况请拨打 12345 或 110。"
    ),
    "ux.hazards": "⚠️ 附近 300 米内有人报告：",
    "ux.hazard_line": "{category} · {distance} · {status} · {n} 人反映",
    "ux.me_too": "👍 我也遇到：{category}",
    "ux.me_too_far": "只有在附近的人可以确认这个问题。请先发送你现在的位置。",
    "ux.me_too_yours": "这是你反映过的问题，处理进展会告诉你。",
    "ux.me_too_done": "👍 谢谢！已记录，现在共 {n} 人反映。",
    "ux.me_too_again": "你已经确认过了，共 {n} 人反映。",
    "ux.resubmit_btn": "🔁 重新上报",
    "ux.resubmit": (
        "🔁 重新上报 {ref}：已带上原来的 {photos} 张照片和位置。请补充说明（比如退回原因里缺的内容），再提交。"
    ),
    "ux.timeline_head": "🕒 {ref} {category} · {status}",
    "ux.timeline_line": "{when} {who}：{step}",
    "ux.timeline_note": "（{note}）",
    "ux.after_photo": "✅ {ref} 处理后的照片",
    "ux.step.create": "上报",
    "ux.step.route": "转交处理",
    "ux.step.accept": "接单",
    "ux.step.transfer": "转派",
    "ux.step.resolve": "办结",
    "ux.step.reject": "退回",
    "ux.step.confirm": "评价",
    "ux.step.reopen": "要求重新处理",
    "ux.step.escalate": "超时督办",
    "ux.step.merge": "并入已有上报",
    "ux.step.join": "补充上报",
    "ux.step.confirm_seen": "👍 确认遇到",
    "ux.role.system": "系统",
    "ux.role.you": "你",
    "ux.role.rider": "骑手",
    "ux.role.worker": "网格员",
    "ux.role.supervisor": "社区/街道",
    "ux.role.department": "职能部门",
    "ux.role.admin": "管理员",
    "ux.role.keeper": "驿站站长",
    "ux.role.staff": "工作人员",
}
