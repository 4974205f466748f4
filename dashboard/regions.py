"""China's seven geographic regions (华北, 东北, 华东, 华中, 华南, 西南, 西北), from a store's province.

Stores record a province, not a region, so the dashboard groups sales by province in the database
and rolls the provinces up into regions here. A province is matched by its English (pinyin) name,
as the store data holds it, or its Chinese name, with or without the 省/市/自治区 suffix; anything
else (a blank province, a typo) falls in "Other", which is a region of its own so the totals add up.
"""

from django.utils.translation import gettext_lazy as _

OTHER = "other"

REGIONS = {
    "north": (
        _("North China"),
        ("Beijing", "北京", "Tianjin", "天津", "Hebei", "河北", "Shanxi", "山西", "Inner Mongolia", "内蒙古"),
    ),
    "northeast": (_("Northeast"), ("Liaoning", "辽宁", "Jilin", "吉林", "Heilongjiang", "黑龙江")),
    "east": (
        _("East China"),
        (
            "Shanghai",
            "上海",
            "Jiangsu",
            "江苏",
            "Zhejiang",
            "浙江",
            "Anhui",
            "安徽",
            "Fujian",
            "福建",
            "Jiangxi",
            "江西",
            "Shandong",
            "山东",
            "Taiwan",
            "台湾",
        ),
    ),  # fmt: skip
    "central": (_("Central China"), ("Henan", "河南", "Hubei", "湖北", "Hunan", "湖南")),
    "south": (
        _("South China"),
        ("Guangdong", "广东", "Guangxi", "广西", "Hainan", "海南", "Hong Kong", "香港", "Macau", "澳门"),
    ),
    "southwest": (
        _("Southwest"),
        (
            "Chongqing",
            "重庆",
            "Sichuan",
            "四川",
            "Guizhou",
            "贵州",
            "Yunnan",
            "云南",
            "Tibet",
            "Xizang",
            "西藏",
        ),
    ),
    "northwest": (
        _("Northwest"),
        ("Shaanxi", "陕西", "Gansu", "甘肃", "Qinghai", "青海", "Ningxia", "宁夏", "Xinjiang", "新疆"),
    ),
}
SUFFIXES = ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", " Province")

_BY_PROVINCE = {name.casefold(): key for key, (_label, names) in REGIONS.items() for name in names}


def region_label(key: str):
    return REGIONS[key][0] if key in REGIONS else _("Other")


def normalise(province: str) -> str:
    province = (province or "").strip()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if province.endswith(suffix) and len(province) > len(suffix):
            return province[: -len(suffix)].strip()
    return province


def region_of(province: str) -> str:
    """The region key of a province name, OTHER when it is blank or unknown."""
    return _BY_PROVINCE.get(normalise(province).casefold(), OTHER)
