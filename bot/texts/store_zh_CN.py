"""The database: start-up errors and `rider-bot db copy` (简体中文)."""

TEXTS = {
    "db.unavailable": "无法打开数据库 {database}：{reason}\n请检查地址、端口、用户名和密码，以及数据库服务是否已启动。",
    "db.bad_url": "数据库地址无效：{reason}",
    "db.copy_same": "源数据库和目标数据库是同一个：{database}",
    "db.copy_refused": "没有复制任何数据：{reason}\n（目标库非空时，加 --force 会先清空目标库再复制。）",
    "db.copy_table": "  {table}: {rows} 行",
    "db.copy_done": "已复制 {tables} 张表、共 {rows} 行：{source} → {target}\n每张表的行数和校验和（SHA-256）均一致。",
    "db.copy_mismatch": "复制后核对不一致：{reason}\n目标库的内容不可信，请排查后加 --force 重新复制。",
}
