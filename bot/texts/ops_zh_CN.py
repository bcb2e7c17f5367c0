"""简体中文：运维命令（死信、备份与恢复、体检）。"""

TEXTS: dict[str, str] = {
    "ops.outbox.row": "#{id} [{status}] {channel}:{address} 已尝试 {attempts} 次 · 下次 {next_at} · {idem}{error}",
    "ops.outbox.error": " · 错误：{error}",
    "ops.outbox.none": "没有符合条件的消息。",
    "ops.outbox.none_dead": "没有失败的消息（死信）。",
    "ops.outbox.retried": "已重新排队 {n} 条消息：{ids}。运行中的机器人会在几秒内发送。",
    "ops.outbox.dropped": "已删除消息 #{id}（原状态 {status}），内容保存在审计记录 #{audit}。",
    "ops.outbox.not_found": "没有编号为 {id} 的消息。",
    "ops.outbox.not_dead": "消息 #{id} 的状态是 {status}：只能重试失败（dead）的消息。",
    "ops.outbox.cannot_drop": "消息 #{id} 的状态是 {status}：只能删除待发送或失败的消息。",
    "ops.outbox.retry_what": "请给出消息编号，或使用 --all-dead 重试全部死信。",
}
