"""简体中文 — the default language of every user-facing text."""

TEXTS: dict[str, str] = {
    # keyboard
    "kb.send_location": "📍 发送位置",
    "kb.stations": "🏠 附近驿站",
    "kb.friendly": "🤝 友好小区/商家",
    "kb.help": "❓ 帮助",
    "kb.placeholder": "发送位置，或输入地名",
    # commands
    "cmd.start": "开始使用",
    "cmd.help": "使用帮助",
    "cmd.lang": "切换语言 / Language",
    "start.greeting": (
        "你好{name}！我是骑手助手 🛵\n"
        "渴了能喝水、累了能歇脚、没电能充电——发送你的位置，我帮你找最近的驿站，"
        "还有对骑手友好的小区、商家和医院。\n\n"
        "👇 点「📍 发送位置」，或直接输入地名（如「米兰社区」）。"
    ),
    "help.text": (
        "🛵 骑手助手使用说明\n\n"
        "📍 发送位置：列出离你最近的驿站，含距离、骑行时间、是否营业和设施。\n"
        "🏠 附近驿站 / 🤝 友好小区/商家：用你上次的位置查找。\n"
        "🔎 筛选：只看有充电、饮水、卫生间等设施的地方。\n"
        "⌨️ 输入地名：如「米兰社区」「绿城深蓝」，支持简称和繁体字。\n"
        "🔴 实时位置：共享实时位置，结果会随你移动更新。\n"
        "📸 随手拍：拍下消防通道堵塞、飞线充电等隐患，发给负责这里的网格员，处理进展会告诉你。\n"
        "/myreports 我的上报 · /points 我的积分 · /cancel 取消\n\n"
        "/lang 切换中文 / English\n"
        "坐标均为大致位置，请以现场为准。"
    ),
    "lang.switched": "已切换为中文。",
    # finder
    "scope.stations": "驿站",
    "scope.friendly": "友好小区/商家/医院",
    "scope.all": "服务点",
    "nearest.header": "📍 离你最近的{scope}",
    "nearest.header_page": "📍 更远的{scope}（第 {page} 页）",
    "nearest.filter": "（筛选：{amenity}）",
    "nearest.none_nearby": "😕 {radius} 内没有找到{scope}{filter}。最近的一个在这里：",
    "nearest.no_more": "没有更多了。",
    "nearest.empty": "暂时没有场所数据，请联系管理员导入。",
    "nearest.outside_china": (
        "🌊 这个位置（{lat:.4f}, {lon:.4f}）不在我们的服务范围内（中国境内的城市）。\n"
        "请确认手机定位是否正确，再重新发送位置。"
    ),
    "nearest.approx": "ℹ️ 坐标为大致位置，请以现场为准。",
    "nearest.live": "🔴 已开启实时位置，结果会随你移动自动更新。",
    "need_location": "请先发送你的位置：点下方「📍 发送位置」按钮。",
    "dist.m": "{m} 米",
    "dist.km": "{km:.1f} 公里",
    "ride": "骑行约 {min} 分钟",
    "open.always": "🟢 24小时",
    "open.open": "🟢 营业中，{time} 关门",
    "open.open_next_day": "🟢 营业中，次日 {time} 关门",
    "open.closed": "🔴 已关门，{time} 开门",
    "open.closed_next_day": "🔴 已关门，明天 {time} 开门",
    "open.unknown": "⚪ 营业时间未知",
    "place.address": "📫 {address}",
    "place.hours": "🕒 {hours}",
    "place.amenities": "设施：{items}",
    "place.policy": "骑手友好：{items}",
    "place.phone": "☎ {phone}",
    "place.notes": "📝 {notes}",
    "place.approx": "（大致位置）",
    "place.route_map": "🗺 友好配送路线图",
    "nav.text": "🧭 导航到「{name}」\n高德地图：{amap}\n通用地图链接：{geo}",
    # buttons
    "btn.venue": "📍{n} 地图",
    "btn.detail": "ℹ️{n}",
    "btn.nav": "🧭 导航",
    "btn.more": "➡️ 更远的",
    "btn.filter": "🔎 筛选设施",
    "btn.filter_clear": "✖ 不限设施",
    "btn.stations": "🏠 看驿站",
    "btn.friendly": "🤝 看友好场所",
    "btn.nearby": "📍 看附近",
    "filter.prompt": "只看有哪种设施的{scope}？",
    # search
    "search.choose": "找到多个「{q}」，请选择：",
    "search.none": "没有找到「{q}」。\n试试发送位置，或输入小区、驿站、商场的名称。",
    "search.geocoded": "🗺 地图上找到「{name}」，以下是附近的{scope}：",
    "search.too_long": "内容太长了。请输入简短的地名（{max} 字以内），或直接发送位置。",
    # bad input
    "callback.expired": "这个按钮已失效，请重新发送位置。",
    "unsupported": "我能看懂位置和文字。请发送位置，或输入地名查找附近的驿站。",
    "file.too_big": "文件太大（{size} MB），最大 {max} MB。",
    "error.generic": "抱歉，出了点问题，请稍后再试。",
    "flood.slow_down": "消息太快了，请稍等几秒再发。",
    "group.private_only": "请私聊我使用：点我的头像，发送位置即可。",
    # CLI
    "cli.valid": "✔ {path}：{rows} 行全部有效。",
    "cli.invalid": "✘ {path}：{count} 处错误（共 {rows} 行）。",
    "cli.imported": "✔ 已导入 {path}：新增 {inserted}，更新 {updated}，共 {total} 个场所。",
    "cli.not_imported": "未导入任何数据（全部或全不）。",
    "cli.no_results": "没有结果。",
    "csv.line": "第 {line} 行",
    "csv.empty_file": "文件是空的",
    "csv.not_utf8": "不是 UTF-8 编码",
    "csv.missing_columns": "缺少必需的列：{column}",
    "csv.unknown_columns": "未知的列：{column}",
    "csv.field_count": "字段数不对（应为/实为 {value}）",
    "csv.missing_field": "{column}：缺少必填内容",
    "csv.too_long": "{column}：内容过长（{value} 字）",
    "csv.control_chars": "{column}：含有控制字符",
    "csv.bad_id": "{column}：编号「{value}」只能用字母、数字、-_.",
    "csv.unknown_kind": "{column}：未知类型「{value}」",
    "csv.unknown_crs": "{column}：未知坐标系「{value}」（应为 wgs84、gcj02 或 bd09）",
    "csv.not_a_number": "{column}：「{value}」不是数字",
    "csv.out_of_range": "{column}：「{value}」超出范围",
    "csv.outside_china": "坐标 {value} 不在中国境内",
    "csv.unknown_amenity": "{column}：未知设施「{value}」",
    "csv.unknown_policy": "{column}：未知骑手政策「{value}」",
    "csv.bad_hours": "{column}：营业时间「{value}」格式不对（应为 08:00-22:00、24h，多段用 ; 分隔）",
    "csv.bad_flag": "{column}：「{value}」应为 1 或 0",
    "csv.bad_route_map": "{column}：「{value}」应为 data/ 下的 PNG/JPG 相对路径或 https 链接",
    "csv.duplicate_id": "{column}：编号重复（{value}）",
    # people: roles and invites (/join, /whoami, `rider-bot invite`)
    "role.worker": "网格员",
    "role.supervisor": "督导员",
    "role.department": "部门联络人",
    "role.admin": "管理员",
    "role.with_scope": "{role}：{scope}",
    "role.grid_in": "{area}{grid}",
    "role.whoami": "👤 你的身份：骑手，以及\n{lines}",
    "role.whoami_line": "• {role}",
    "role.whoami_rider": "👤 你的身份：骑手。\n如果管理员给了你邀请码，发送「/join 邀请码」即可加入（如成为网格员）。",
    "role.scope_unknown_role": "未知的身份「{role}」（可用：worker、supervisor、department、admin）。",
    "role.scope_unknown_grid": "没有编号为「{scope}」的网格（网格员的范围必须是一个网格）。",
    "role.scope_unknown_area": "没有编号为「{scope}」的社区或街道（督导员的范围必须是社区或街道）。",
    "role.scope_unknown_department": "没有代码为「{scope}」的部门。可用的部门：{departments}",
    "role.scope_admin_scope": "管理员没有范围，请不要指定网格、范围或部门。",
    "join.usage": (
        "请在 /join 后面加上管理员给你的邀请码，例如：\n/join K7P2-9XQM-4HTW-B3ZD\n不区分大小写，短横线和空格可有可无。"
    ),
    "join.ok": "✅ 你已成为{role}",
    "join.invalid": "❌ 邀请码不对，请核对后再试（不区分大小写，字母 O 和数字 0 都可以）。",
    "join.expired": "⌛ 这个邀请码已过期，请联系管理员重新生成一个。",
    "join.used": "⚠️ 这个邀请码已经用过了，每个邀请码只能用一次。如有疑问请联系管理员。",
    "join.rate_limited": "⏳ 尝试次数太多，请 {minutes} 分钟后再试。",
    "invite.created": (
        "✔ 邀请码：{code}\n身份：{role}\n有效期至：{expires}（{tz}）\n"
        "只能使用一次。请当面或电话告诉对方，让对方向机器人发送：/join {code}"
    ),
    "invite.missing_option": "--role {role} 需要指定 {option}。",
    "invite.bad_ttl": "--ttl-hours 必须大于 0。",
    # grids (网格) — import errors and CLI
    "grids.unknown_level": "{column}：未知层级「{value}」（应为 street 街道、community 社区或 grid 网格）",
    "grids.missing_parent": "{column}：社区和网格必须填写上级编号（上级层级应为 {value}）",
    "grids.street_parent": "{column}：街道是最高一级，不能有上级（「{value}」）",
    "grids.unknown_parent": "{column}：上级「{value}」在本文件和数据库中都不存在",
    "grids.parent_level": "{column}：上级层级不对（{value}）；网格的上级是社区，社区的上级是街道",
    "grids.outside_parent": "{column}：范围大部分不在上级之内（{value}，至少 90% 应在上级范围内）",
    "grids.level_changed": "{column}：不能修改层级（{value}），数据库里还有下级挂在它下面",
    "grids.bad_group_chat": "{column}：群聊「{value}」应为空、数字群号（如 -1001234567890）或 @用户名",
    "grids.bad_geometry": "{column}：边界无法读取（{value}），应为 WKT（POLYGON((经度 纬度, …))）或 GeoJSON",
    "grids.not_polygon": "{column}：边界必须是多边形（Polygon 或 MultiPolygon），不是「{value}」",
    "grids.empty_geometry": "{column}：边界是空的",
    "grids.open_ring": "{column}：边界没有闭合，首尾顶点应相同（首点 {value}）",
    "grids.too_few_vertices": "{column}：边界至少要有 3 个不同的顶点（只有 {value} 个）",
    "grids.invalid_geometry": "{column}：边界无效（{value}），例如边相交",
    "grids.outside_china": "{column}：顶点「{value}」不在中国境内（WKT 和 GeoJSON 是经度在前、纬度在后）",
    "grids.imported": "✔ 已导入 {path}：新增 {inserted}，更新 {updated}，共 {total} 个街道、社区和网格。",
    "grids.no_file": "找不到文件：{path}",
    # WeChat 公众号 (handlers/wechat/): what differs from Telegram — no keyboards, typed words, a custom menu
    "wechat.welcome": (
        "你好！欢迎关注骑手助手 🛵\n"
        "渴了能喝水、累了能歇脚、没电能充电——发送你的位置（点输入框旁的「+」→「位置」），"
        "我帮你找最近的驿站，还有对骑手友好的小区、商家和医院。\n"
        "看到隐患？点菜单「随手拍」或直接发照片。回复「帮助」查看全部用法。"
    ),
    "wechat.help": (
        "🛵 骑手助手使用说明\n\n"
        "📍 发送位置（点「+」→「位置」）：列出离你最近的驿站，含距离、骑行时间、是否营业和设施。\n"
        "🏠 回复「附近驿站」、🤝「友好小区」：用你上次的位置查找。\n"
        "⌨️ 输入地名：如「米兰社区」「绿城深蓝」，查看详情和导航链接。\n"
        "📸 随手拍：发送隐患照片（消防通道堵塞、飞线充电等），按提示补充位置和类别，"
        "转给负责这里的网格员，处理进展会告诉你。\n"
        "回复「我的上报」「积分」「取消」；回复 /lang 切换中文 / English。\n"
        "也可以用下方的菜单。坐标均为大致位置，请以现场为准。"
    ),
    "wechat.need_location": "请先发送你的位置：点输入框旁的「+」→「位置」。",
    "wechat.location_hint": "📍 点输入框旁的「+」→「位置」发送位置；也可以回复「用上次的位置」或「取消」。",
    "wechat.nearest_hint": "回复地名可查看详情和导航链接。",
    "wechat.unsupported": "我能看懂文字、位置和图片。请发送位置，或输入地名查找附近的驿站。",
    "wechat.bad_location": "没能读出这个位置，请重新发送。",
    "wechat.link": "🔗 {label}：{url}",
    "wechat.venue": "📍 {title}\n{address}\n🧭 高德地图：{amap}",
    "wechat.choose_more": "还有 {n} 项没有列出，请输入更完整的名称。",
    # typed words that act as commands (alternatives separated by |; matched in every language)
    "wechat.cmd.help": "开始|帮助|菜单|？",
    "wechat.cmd.stations": "附近驿站|找驿站",
    "wechat.cmd.friendly": "友好小区/商家|友好小区|友好商家|友好场所",
    "wechat.cmd.report": "随手拍|上报",
    "wechat.cmd.my_reports": "我的上报",
    "wechat.cmd.points": "积分|我的积分",
    "wechat.cmd.cancel": "取消",
    "wechat.cmd.lang": "语言|切换语言",
    "wechat.cmd.use_last": "用上次的位置|上次的位置",
    "wechat.cmd.queue": "工单|我的工单",
    "wechat.cmd.whoami": "我的身份",
    "wechat.cmd.join": "加入",
    # the custom menu (`rider-bot wechat menu`): top-level names at most 4 characters
    "wechat.menu.stations": "附近驿站",
    "wechat.menu.friendly": "友好场所",
    "wechat.menu.reports": "随手拍",
    "wechat.menu.report": "📸 拍照上报",
    "wechat.menu.my_reports": "我的上报",
    "wechat.cli.published": "✔ 自定义菜单已发布（{buttons} 个按钮）。",
    "wechat.cli.failed": "✘ 发布失败：{error}",
    "wechat.cli.not_configured": (
        "请先设置 RIDER_WECHAT_APPID 和 RIDER_WECHAT_SECRET（或配置文件中的 wechat_appid、wechat_secret）。"
    ),
    "error.storage": "⚠️ 暂时无法保存，刚才这一步没有生效（服务器存储出了问题）。请稍后再试一次。",
}
