"""多进程共享的状态：`db copy` 复制照片（简体中文）。"""

TEXTS = {
    "db.copy_photos": "  照片：{n} 张（{size} MB），原图与可分享副本逐张核对一致（{source} → {target}）",
    "db.copy_photos_mismatch": "照片复制后不一致：{reason}\n请勿使用目标库；查明原因后加 --force 重新复制。",
    "db.photos_in_database": "数据库",
}
