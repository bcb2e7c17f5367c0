"""简体中文: time limits, reminders, escalation (吹哨) and digests."""

TEXTS: dict[str, str] = {
    "cmd.stats": "统计（社区/管理员）",
    "cmd.overdue": "超时工单（社区/管理员）",
    "phase.accept": "接单",
    "phase.resolve": "办结",
    "remind.text": "⏰ 提醒：{ref} {category} 需在 {due} 前{phase}（还剩 {left}）。",
    "escalate.workers": "🚨 超时督办：{ref} {category} 已超过{phase}时限 {over}。\n{card}",
    "escalate.level.1": "上报社区督办",
    "escalate.level.2": "上报街道督办",
    "escalate.level.3": "社区吹哨，转交{department}处理",
    "escalate.rider": "⏰ {ref} 处理超时，已{step}。",
    "escalate.audit": "第 {level} 级督办（{phase}超时 {over}）",
    "digest.title": "📊 {date} 工作日报（{scope}）",
    "digest.body": (
        "昨日新增：{new}\n在办：{open}\n超时：{overdue}\n昨日办结：{resolved}\n"
        "按时办结率：{on_time}\n满意度：{satisfaction}"
    ),
    "digest.oldest": "最久未办结：",
    "digest.line": "{ref} {category} · {status} · {age}",
    "digest.none": "—",
    "digest.scope_all": "全部",
    "stats.not_allowed": "只有社区、街道负责人和管理员可以查看统计。",
    "overdue.none": "🎉 没有超时工单。",
    "overdue.header": "⏰ 超时工单（{n}）：",
    "overdue.line": "{ref} {category} · {phase}超时 {over}",
    "cli.stats": (
        "{scope}：新增 {new} · 在办 {open} · 超时 {overdue} · 办结 {resolved}"
        " · 按时率 {on_time} · 满意度 {satisfaction}"
    ),
    "cli.sla_line": "{category}: 接单 {accept} 分钟 · 办结 {resolve} 分钟{urgent}",
    "cli.sla_urgent": " · 紧急",
    "cli.sla_set": "✔ 已更新 {category} 的时限。",
    "cli.sla_unknown": "未知类别：{category}",
}
