"""随手拍 categories, in the words riders and grid workers use (DOMAIN.md), with each one's escalation department.

The department is where the grid "blows the whistle" (社区吹哨、部门报到) when it cannot fix something itself;
routing may also send a category straight there when a city configures it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    token: str
    zh: str
    en: str
    icon: str
    department: str

    def label(self, lang: str) -> str:
        return f"{self.icon} {self.zh if lang.startswith('zh') else self.en}"


CATEGORIES: tuple[Category, ...] = (
    Category("fire_lane", "消防通道堵塞", "Blocked fire lane", "🚒", "xiaofang"),
    Category("flying_lead", "飞线充电", "Flying-lead charging", "🔌", "zhujian"),
    Category("elevator", "电梯安全", "Elevator safety", "🛗", "zhujian"),
    Category("lights", "灯损坏", "Broken lights", "💡", "wuye"),
    Category("road", "道路坑洼/井盖", "Pothole / manhole cover", "🕳", "shizheng"),
    Category("sanitation", "环境卫生", "Dirty or messy area", "🗑", "chengguan"),
    Category("parking", "停车/僵尸车", "Parking / abandoned vehicle", "🚗", "zhujian"),
    Category("dogs", "不文明养犬", "Uncivil dog keeping", "🐕", "gongan"),
    Category("facility", "设施损坏", "Broken public facility", "🏗", "chengguan"),
    Category("other", "其他", "Other", "❓", "chengguan"),
)
CATEGORY_BY_TOKEN = {c.token: c for c in CATEGORIES}


def category(token: str) -> Category:
    return CATEGORY_BY_TOKEN.get(token, CATEGORY_BY_TOKEN["other"])
