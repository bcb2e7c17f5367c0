"""The closed vocabularies of place data: kinds, amenities and rider policies.

They are closed on purpose: a CSV typo ("chraging") must be reported with its line number rather than silently
becoming an amenity no filter ever matches. Each term carries the words riders and grid workers use (DOMAIN.md),
so CSV editors may write either the token or the Chinese word.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    token: str
    zh: str
    en: str
    icon: str
    aliases: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


KINDS: tuple[Term, ...] = (
    Term(
        "station",
        "驿站",
        "rest station",
        "🏠",
        ("小哥驿站", "骑士加油站", "党群服务中心", "服务角", "rest_station"),
    ),
    Term("canteen", "小哥食堂", "canteen", "🍜", ("食堂", "餐厅")),
    Term("community", "友好社区", "friendly community", "🏘", ("友好小区", "社区", "小区")),
    Term("merchant", "友好商家", "friendly merchant", "🏪", ("商家", "友好商圈", "商场")),
    Term("hospital", "友好医院", "friendly hospital", "🏥", ("医院",)),
)

AMENITIES: tuple[Term, ...] = (
    Term("water", "饮水", "water", "💧", ("饮水机", "喝水")),
    Term("charging", "充电", "charging", "🔌", ("充电桩", "手机充电", "电动车充电")),
    Term("microwave", "微波炉", "microwave", "🍱", ("热饭",)),
    Term("toilet", "卫生间", "toilet", "🚻", ("厕所", "洗手间")),
    Term("rest", "休息", "seats & rest", "🪑", ("歇脚", "座椅")),
    Term("meal_discount", "优惠餐食", "discounted meals", "🍚", ("优惠餐", "爱心餐")),
    Term("umbrella", "雨伞", "umbrellas", "☂", ("借伞",)),
    Term("toolbox", "工具箱", "toolbox", "🔧", ("工具", "维修工具")),
    Term("first_aid", "医药箱", "first-aid kit", "🩹", ("药箱", "急救箱")),
    Term("aircon", "空调", "air-conditioning", "❄", ("冷气", "暖气")),
    Term("wifi", "Wi-Fi", "Wi-Fi", "📶", ("无线网", "WIFI")),
    Term("health_check", "健康检测", "health checks", "🩺", ("血压", "体检")),
    Term("counselling", "心理咨询", "counselling", "💬", ("心理",)),
    Term("legal", "法律咨询", "legal help", "⚖", ("法律", "维权")),
    Term("emergency", "应急自助", "emergency self-help", "🆘", ("应急",)),
)

# What a friendly community, merchant or hospital promises riders (友好场景).
POLICIES: tuple[Term, ...] = (
    Term("green_channel", "绿色通道", "green channel at the gate", "🟢", ("快速通道",)),
    Term("ebike_entry", "电动车可进", "e-bikes allowed in", "🛵", ("电动车进小区",)),
    Term("ebike_parking", "骑手停车位", "rider parking spot", "🅿", ("停车位", "临时停车")),
    Term("route_map", "友好配送路线图", "delivery route map at the gate", "🗺", ("配送路线图", "路线图")),
    Term("building_numbers", "楼栋号清晰", "clear building numbers", "🔢", ("楼号清晰",)),
    Term("priority_care", "优先就诊", "priority care for riders", "⚕", ("优先诊疗",)),
    Term("free_water", "免费饮水", "free drinking water", "💧", ()),
    Term("restroom", "可借用卫生间", "restroom for riders", "🚻", ("借用厕所",)),
    Term("charging", "可充电", "charging for riders", "🔌", ()),
)


def _lookup(terms: tuple[Term, ...]) -> dict[str, Term]:
    table: dict[str, Term] = {}
    for term in terms:
        for word in (term.token, term.zh, term.en, *term.aliases):
            table[word.strip().lower()] = term
    return table


_KIND_BY_WORD = _lookup(KINDS)
_AMENITY_BY_WORD = _lookup(AMENITIES)
_POLICY_BY_WORD = _lookup(POLICIES)
KIND_BY_TOKEN = {t.token: t for t in KINDS}
AMENITY_BY_TOKEN = {t.token: t for t in AMENITIES}
POLICY_BY_TOKEN = {t.token: t for t in POLICIES}


def kind_term(word: str) -> Term | None:
    return _KIND_BY_WORD.get(word.strip().lower())


def amenity_term(word: str) -> Term | None:
    return _AMENITY_BY_WORD.get(word.strip().lower())


def policy_term(word: str) -> Term | None:
    return _POLICY_BY_WORD.get(word.strip().lower())
