"""Deterministic synthetic Social-CRM data with a known ground truth.

:func:`generate` writes a multi-channel SCRM data set -- contact records from several source
systems, a time-ordered event log, employees, chat groups, fission campaigns -- together with
the truth a resolver and the graph analyses are judged against: which true person each contact
record belongs to, each person's planted circle, household and churn label.

Every file and field is documented in ``docs/input-formats.md``. The data is built column-wise
with numpy and streamed to disk in chunks, so 1,000,000 customers fit in a few GB of memory.
The same :class:`GeneratorConfig` always produces byte-identical files.

What is planted
---------------
* **People** with Chinese names (or Latin/pinyin names), gender, birth date, address, company,
  phone (mostly Chinese mobiles), e-mail, 18-character resident ID and WeChat unionid.
* **Contact records**: each person appears on 1-4 of the channels ``phone``, ``email``,
  ``wechat``, ``web_form``, ``store`` and ``event`` (some WeChat users in two WeChat apps), with
  noise: phone formats, one-character typos, traditional characters, pinyin, case and
  whitespace, missing fields, and family members who share a phone or e-mail address.
* **Circles** of kind ``colleague``, ``friend``, ``interest`` and ``group``; interaction ties fall
  inside the person's circle with probability ``1 - mixing``.
* **Referral forests** per campaign, **orders**, **tier** and **funnel** histories, **tags**,
  **interests**, **groups**, and **churn** driven by planted signals (a deleted employee, activity
  that stops, churning neighbours in the same circle).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from quanzi.ingest.readers import CONTACT_FIELDS

__all__ = [
    "CAMPAIGN_COLUMNS",
    "CIRCLE_KINDS",
    "CONTACT_COLUMNS",
    "EMPLOYEE_COLUMNS",
    "EVENT_TYPES",
    "GROUP_COLUMNS",
    "INTERESTS",
    "SOURCES",
    "TAGS",
    "TRUTH_PEOPLE_COLUMNS",
    "TRUTH_RECORD_COLUMNS",
    "GeneratedFiles",
    "GeneratorConfig",
    "generate",
]

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Progress = Callable[[str, int, int], None]

# ---------------------------------------------------------------------------------------------
# Public vocabularies and file layouts
# ---------------------------------------------------------------------------------------------

#: Source systems a contact record can come from, in the order of their numeric codes.
SOURCES: Final[tuple[str, ...]] = ("phone", "email", "wechat", "web_form", "store", "event")
#: Columns of ``contacts.csv``, in file order: the reader's contact fields, less the
#: free ``attributes`` (the generator writes none).
CONTACT_COLUMNS: Final[tuple[str, ...]] = tuple(f for f in CONTACT_FIELDS if f != "attributes")
EMPLOYEE_COLUMNS: Final[tuple[str, ...]] = ("employee_id", "name", "team", "email")
GROUP_COLUMNS: Final[tuple[str, ...]] = (
    "group_id",
    "name",
    "kind",
    "owner_employee_id",
    "interest",
)
CAMPAIGN_COLUMNS: Final[tuple[str, ...]] = ("campaign_id", "name", "start", "end")
TRUTH_RECORD_COLUMNS: Final[tuple[str, ...]] = ("source", "source_record_id", "person_id")
TRUTH_PEOPLE_COLUMNS: Final[tuple[str, ...]] = (
    "person_id",
    "circle_id",
    "circle_kind",
    "churned",
    "household_id",
)
#: Event types of ``events.jsonl``, in the order of their numeric codes.
EVENT_TYPES: Final[tuple[str, ...]] = (
    "interaction",
    "group_join",
    "group_leave",
    "employee_added",
    "employee_deleted",
    "referral",
    "order",
    "tag_applied",
    "interest",
    "funnel_stage",
    "tier_change",
)
#: Planted circle kinds, in the order of their numeric codes.
CIRCLE_KINDS: Final[tuple[str, ...]] = ("colleague", "friend", "interest", "group")
#: Interest vocabulary (ASCII, kebab-case).
INTERESTS: Final[tuple[str, ...]] = (
    "hiking",
    "running",
    "cycling",
    "yoga",
    "fitness",
    "swimming",
    "golf",
    "tennis",
    "badminton",
    "basketball",
    "football",
    "skiing",
    "camping",
    "fishing",
    "photography",
    "travel",
    "wine",
    "tea",
    "coffee",
    "cooking",
    "baking",
    "craft-beer",
    "fine-dining",
    "parenting",
    "education",
    "finance",
    "investing",
    "real-estate",
    "cars",
    "tech-gadgets",
    "gaming",
    "reading",
    "calligraphy",
    "painting",
    "music",
    "movies",
    "fashion",
    "skincare",
    "pets",
    "gardening",
    "health",
    "meditation",
)
_INTEREST_ZH: Final[tuple[str, ...]] = (
    "徒步",
    "跑步",
    "骑行",
    "瑜伽",
    "健身",
    "游泳",
    "高尔夫",
    "网球",
    "羽毛球",
    "篮球",
    "足球",
    "滑雪",
    "露营",
    "钓鱼",
    "摄影",
    "旅行",
    "红酒",
    "茶艺",
    "咖啡",
    "烹饪",
    "烘焙",
    "精酿",
    "美食",
    "亲子",
    "教育",
    "理财",
    "投资",
    "房产",
    "汽车",
    "数码",
    "游戏",
    "读书",
    "书法",
    "绘画",
    "音乐",
    "电影",
    "时尚",
    "护肤",
    "宠物",
    "园艺",
    "健康",
    "冥想",
)
#: Tags employees apply (``tag_applied`` events).
TAGS: Final[tuple[str, ...]] = (
    "VIP",
    "price-sensitive",
    "new-parent",
    "high-intent",
    "referrer",
    "at-risk",
    "complaint",
    "birthday-club",
    "key-account",
    "wholesale",
)
_TAG = {t: i for i, t in enumerate(TAGS)}
_SOURCE_TAGS: Final[tuple[str, ...]] = (
    "hotline",
    "newsletter",
    "mini-program",
    "landing-page",
    "walk-in",
    "trade-show",
)
_SRC_PREFIX: Final[tuple[str, ...]] = ("CC", "EM", "WX", "WF", "ST", "EV")
_SRC_PHONE, _SRC_EMAIL, _SRC_WECHAT, _SRC_WEB, _SRC_STORE, _SRC_EVENT = range(6)
(
    _EV_INTERACTION,
    _EV_GROUP_JOIN,
    _EV_GROUP_LEAVE,
    _EV_EMP_ADDED,
    _EV_EMP_DELETED,
    _EV_REFERRAL,
    _EV_ORDER,
    _EV_TAG,
    _EV_INTEREST,
    _EV_FUNNEL,
    _EV_TIER,
) = range(11)
_COLLEAGUE, _FRIEND, _INTEREST_CIRCLE, _GROUP_CIRCLE = range(4)
_INTERACTION_KINDS: Final[tuple[str, ...]] = ("message", "call", "visit")
_FUNNEL_STAGES: Final[tuple[str, ...]] = ("first_contact", "intention", "meeting", "order")
_TIERS: Final[tuple[str, ...]] = ("member", "silver", "gold", "platinum")
_TIER_THRESHOLDS: Final[tuple[float, ...]] = (1_000.0, 5_000.0, 20_000.0)
_GROUP_KINDS: Final[tuple[str, ...]] = ("wechat_group", "community", "interest_club")
_PRODUCTS: Final[tuple[tuple[str, float], ...]] = (
    ("Hydrating Serum 50ml", 389.0),
    ("Skincare Gift Set", 899.0),
    ("Wine Club Box", 1280.0),
    ("Bordeaux Red 750ml", 468.0),
    ("Golf Lesson Pack", 2400.0),
    ("Yoga Mat Pro", 329.0),
    ("Running Shoes", 799.0),
    ("Trail Backpack 30L", 559.0),
    ("Baby Care Bundle", 459.0),
    ("Kids Learning Tablet", 1299.0),
    ("Oolong Tea Tin", 268.0),
    ("Coffee Beans 1kg", 218.0),
    ("Annual Membership", 1999.0),
    ("Wealth Seminar Ticket", 680.0),
    ("Smart Watch", 1599.0),
    ("Pet Food 10kg", 399.0),
)
_TEAMS: Final[tuple[str, ...]] = (
    "Sales-North",
    "Sales-East",
    "Sales-South",
    "Key-Accounts",
    "Community-Ops",
    "Customer-Success",
)
# Campaign name by the month it starts in (January first).
_CAMPAIGN_NAMES: Final[tuple[str, ...]] = (
    "新春邀请有礼",
    "新春邀请有礼",
    "春季会员日分享赢好礼",
    "周年庆裂变",
    "618拼团裂变",
    "618拼团裂变",
    "夏日好友助力",
    "开学季推荐有礼",
    "中秋团圆邀请季",
    "双11老带新",
    "双11老带新",
    "年终感恩回馈",
)
_GROUP_THEMES: Final[tuple[str, ...]] = (
    "VIP客户",
    "新品体验",
    "会员福利",
    "宝妈交流",
    "车友",
    "同城好友",
    "老客户回馈",
    "限时秒杀",
)

# ---------------------------------------------------------------------------------------------
# Name, address and company material
# ---------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words of ``text``."""
    return tuple(text.split())


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``"王Wang 李Li"`` -> ``(("王", "Wang"), ("李", "Li"))``: one character, then its pinyin."""
    return tuple((w[0], w[1:]) for w in text.split())


# (simplified surname, pinyin), most common first.
_SURNAMES: Final[tuple[tuple[str, str], ...]] = _pairs(
    "王Wang 李Li 张Zhang 刘Liu 陈Chen 杨Yang 黄Huang 赵Zhao 吴Wu 周Zhou 徐Xu 孙Sun 马Ma "
    "朱Zhu 胡Hu 郭Guo 何He 高Gao 林Lin 罗Luo 郑Zheng 梁Liang 谢Xie 宋Song 唐Tang 许Xu "
    "韩Han 冯Feng 邓Deng 曹Cao 彭Peng 曾Zeng 萧Xiao 田Tian 董Dong 袁Yuan 潘Pan 于Yu "
    "蒋Jiang 蔡Cai 余Yu 杜Du 叶Ye 程Cheng 苏Su 魏Wei 吕Lv 丁Ding 任Ren 沈Shen 姚Yao 卢Lu "
    "姜Jiang 崔Cui 钟Zhong 谭Tan 陆Lu 汪Wang 范Fan 金Jin 石Shi 廖Liao 贾Jia 夏Xia 韦Wei "
    "付Fu 方Fang 白Bai 邹Zou 孟Meng 熊Xiong 秦Qin 邱Qiu 江Jiang 尹Yin 薛Xue 闫Yan 段Duan "
    "雷Lei 侯Hou 龙Long 史Shi 陶Tao 黎Li 贺He 顾Gu 毛Mao 郝Hao 龚Gong 邵Shao 万Wan "
    "钱Qian 严Yan"
)
_MALE_GIVEN: Final[tuple[tuple[str, str], ...]] = _pairs(
    "伟wei 强qiang 磊lei 军jun 洋yang 勇yong 杰jie 涛tao 明ming 超chao 刚gang 平ping "
    "辉hui 鹏peng 飞fei 宇yu 浩hao 博bo 睿rui 俊jun 凯kai 峰feng 斌bin 波bo 龙long 海hai "
    "成cheng 东dong 亮liang 鑫xin 昊hao 天tian 泽ze 阳yang 振zhen 鸿hong 宏hong 毅yi "
    "建jian 国guo 志zhi 文wen 华hua 永yong 庆qing 德de 荣rong 新xin 家jia 轩xuan 晨chen "
    "子zi 一yi 嘉jia 林lin 森sen"
)
_FEMALE_GIVEN: Final[tuple[tuple[str, str], ...]] = _pairs(
    "芳fang 娜na 敏min 静jing 丽li 艳yan 娟juan 秀xiu 霞xia 桂gui 英ying 玲ling 红hong "
    "欣xin 怡yi 婷ting 雪xue 琳lin 梅mei 丹dan 晓xiao 佳jia 思si 涵han 诺nuo 雨yu 萱xuan "
    "梓zi 宁ning 云yun 春chun 兰lan 凤feng 慧hui 莉li 倩qian 颖ying 瑶yao 欢huan 琪qi "
    "媛yuan 露lu 薇wei 晶jing 璐lu 彤tong 悦yue 心xin 安an 乐le 玉yu 艺yi 诗shi 语yu "
    "晨chen 子zi 一yi 嘉jia 文wen 华hua"
)
_GIVEN: Final[tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = (
    _MALE_GIVEN,
    _FEMALE_GIVEN,
)
#: Simplified -> traditional for every character above that differs.
_TRADITIONAL: Final[dict[str, str]] = dict(
    zip(
        "张刘陈杨黄赵吴孙马罗郑谢许韩冯邓萧蒋叶苏吕卢钟谭陆贾韦邹闫龙贺顾龚万钱严"
        "伟强军杰涛刚辉鹏飞凯东泽阳鸿国华庆荣轩静丽艳红晓诺宁云兰凤颖瑶欢悦乐艺诗语",
        "張劉陳楊黃趙吳孫馬羅鄭謝許韓馮鄧蕭蔣葉蘇呂盧鍾譚陸賈韋鄒閆龍賀顧龔萬錢嚴"
        "偉強軍傑濤剛輝鵬飛凱東澤陽鴻國華慶榮軒靜麗豔紅曉諾寧雲蘭鳳穎瑤歡悅樂藝詩語",
        strict=True,
    )
)
_TRAD_TABLE: Final[dict[int, str]] = str.maketrans(_TRADITIONAL)
_LATIN_GIVEN: Final[tuple[tuple[str, ...], tuple[str, ...]]] = (
    _words(
        "David Michael Kevin Jason Eric Tony Jack Peter Andy Vincent Leo Daniel Alex Steven "
        "Frank Henry Ryan Sam"
    ),
    _words(
        "Grace Linda Amy Cindy Emily Jenny Vivian Sophia Irene Helen Lily Anna Cathy Sandy "
        "Wendy Joyce Fiona Karen"
    ),
)
# Latin surnames by country (index 0 = China: the pinyin of the Chinese surname is used).
_LATIN_SURNAMES: Final[tuple[tuple[str, ...], ...]] = (
    (),
    _words("Chan Wong Cheung Lau Leung Ho Lam Tsang Yip Kwok Chow Tang"),
    _words("Tan Lim Lee Ng Ong Wong Goh Chua Koh Teo Chan Low"),
    _words("Smith Johnson Brown Miller Davis Wilson Taylor Anderson Chen Lee Wang Garcia"),
)

# Chinese cities: zh, pinyin, province zh, province pinyin, postcode prefix, ID region code,
# weight, districts.
_CN_CITIES: Final[tuple[tuple[str, str, str, str, str, str, int, tuple[str, ...]], ...]] = (
    ("北京", "Beijing", "北京市", "Beijing", "100", "110105", 10, ("朝阳区", "海淀区", "东城区")),
    (
        "上海",
        "Shanghai",
        "上海市",
        "Shanghai",
        "200",
        "310104",
        10,
        ("徐汇区", "浦东新区", "静安区"),
    ),
    (
        "广州",
        "Guangzhou",
        "广东省",
        "Guangdong",
        "510",
        "440106",
        8,
        ("天河区", "越秀区", "海珠区"),
    ),
    ("深圳", "Shenzhen", "广东省", "Guangdong", "518", "440305", 8, ("南山区", "福田区", "宝安区")),
    ("杭州", "Hangzhou", "浙江省", "Zhejiang", "310", "330106", 6, ("西湖区", "滨江区", "上城区")),
    ("南京", "Nanjing", "江苏省", "Jiangsu", "210", "320106", 5, ("鼓楼区", "玄武区", "建邺区")),
    ("苏州", "Suzhou", "江苏省", "Jiangsu", "215", "320508", 4, ("姑苏区", "吴中区", "相城区")),
    ("成都", "Chengdu", "四川省", "Sichuan", "610", "510107", 6, ("武侯区", "锦江区", "青羊区")),
    (
        "重庆",
        "Chongqing",
        "重庆市",
        "Chongqing",
        "400",
        "500103",
        5,
        ("渝中区", "江北区", "南岸区"),
    ),
    ("武汉", "Wuhan", "湖北省", "Hubei", "430", "420106", 5, ("武昌区", "江汉区", "洪山区")),
    ("西安", "Xi'an", "陕西省", "Shaanxi", "710", "610113", 4, ("雁塔区", "碑林区", "莲湖区")),
    ("天津", "Tianjin", "天津市", "Tianjin", "300", "120101", 4, ("和平区", "南开区", "河西区")),
    ("长沙", "Changsha", "湖南省", "Hunan", "410", "430104", 3, ("岳麓区", "芙蓉区", "天心区")),
    ("郑州", "Zhengzhou", "河南省", "Henan", "450", "410105", 3, ("金水区", "二七区", "中原区")),
    ("青岛", "Qingdao", "山东省", "Shandong", "266", "370202", 3, ("市南区", "崂山区", "市北区")),
    ("厦门", "Xiamen", "福建省", "Fujian", "361", "350203", 2, ("思明区", "湖里区", "集美区")),
    ("宁波", "Ningbo", "浙江省", "Zhejiang", "315", "330203", 2, ("海曙区", "鄞州区", "江北区")),
    ("合肥", "Hefei", "安徽省", "Anhui", "230", "340104", 2, ("蜀山区", "包河区", "庐阳区")),
    ("昆明", "Kunming", "云南省", "Yunnan", "650", "530102", 2, ("五华区", "盘龙区", "官渡区")),
    ("沈阳", "Shenyang", "辽宁省", "Liaoning", "110", "210102", 2, ("和平区", "沈河区", "皇姑区")),
)
_CN_ROADS: Final[tuple[str, ...]] = _words(
    "中山路 人民路 解放路 建设路 和平路 新华路 长江路 黄河路 胜利路 文化路 学府路 科技路 "
    "建国路 南京路 东风路 光明路 青年路 幸福路 朝阳路 复兴路"
)
# Countries by index (0 CN, 1 HK, 2 SG, 3 US): calling codes; for 1..3 the city as
# (English name, Chinese name, state variants, postcode prefix) and street names.
_CALLING_CODE: Final[tuple[str, ...]] = ("86", "852", "65", "1")
_FOREIGN_CITY: Final[tuple[tuple[str, str, tuple[str, ...], str], ...]] = (
    ("", "", (), ""),
    ("Hong Kong", "香港", ("HK", "香港特别行政区"), ""),
    ("Singapore", "新加坡", ("",), "0"),
    ("San Francisco", "旧金山", ("CA", "California"), "941"),
)
_FOREIGN_ROADS: Final[tuple[tuple[str, ...], ...]] = (
    (),
    ("Nathan Road", "Hennessy Road", "Queen's Road Central", "Des Voeux Road"),
    ("Orchard Road", "Raffles Place", "Marina Boulevard", "Tanjong Pagar Road"),
    ("Market St", "Pine St", "Mission St", "California St"),
)
_CN_MOBILE_PREFIXES: Final[tuple[int, ...]] = (
    *range(130, 140),
    *(150, 151, 152, 153, 155, 156, 157, 158, 159),
    *(166, 176, 177, 178),
    *range(180, 190),
    *(198, 199),
)
_HK_MOBILE_PREFIXES: Final[tuple[int, ...]] = (59, 61, 63, 64, 65, 67, 69, 94, 96, 97)
_SG_MOBILE_PREFIXES: Final[tuple[int, ...]] = (81, 82, 83, 84, 85, 86, 87, 88, 89, *range(90, 99))
_US_AREA_CODES: Final[tuple[int, ...]] = (415, 628, 650, 408, 510)
_BRAND_CHARS: Final[tuple[tuple[str, str], ...]] = _pairs(
    "云yun 帆fan 华hua 信xin 金jin 石shi 博bo 远yuan 星xing 辰chen 天tian 合he 恒heng "
    "通tong 锐rui 汇hui 智zhi 嘉jia 禾he 瑞rui 丰feng 东dong 方fang 长chang 青qing 宏hong "
    "图tu 鼎ding 盛sheng 启qi 明ming 晨chen 海hai 纳na 景jing 卓zhuo 越yue 锦jin 程cheng "
    "德de 立li 达da 安an 捷jie 联lian 创chuang 优you 品pin 众zhong 诚cheng"
)
_INDUSTRIES: Final[tuple[tuple[str, str, str], ...]] = (
    ("科技", "Technology", "tech"),
    ("网络", "Network", "net"),
    ("贸易", "Trading", "trade"),
    ("咨询", "Consulting", "consult"),
    ("医药", "Pharma", "pharma"),
    ("教育", "Education", "edu"),
    ("金融", "Finance", "fin"),
    ("传媒", "Media", "media"),
    ("物流", "Logistics", "logistics"),
    ("餐饮", "Catering", "food"),
    ("电子", "Electronics", "elec"),
    ("地产", "Properties", "estate"),
)
_FREE_MAIL: Final[tuple[str, ...]] = (
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "sina.com",
    "hotmail.com",
    "foxmail.com",
    "139.com",
    "yeah.net",
    "icloud.com",
)
_FREE_MAIL_W: Final[tuple[float, ...]] = (25, 12, 10, 10, 6, 6, 8, 5, 3, 5)
_LOWER: Final[str] = "abcdefghijklmnopqrstuvwxyz"
_ID_ALPHABET: Final[str] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CODE_ALPHABET: Final[str] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_DAY: Final[int] = 86_400
_CHUNK: Final[int] = 65_536

# Per-source probability that a field is present: phone, email, given/surname split, id_number,
# birth_date, address, gender, company.
_PRESENCE: Final[tuple[tuple[float, ...], ...]] = (
    (1.00, 0.15, 0.30, 0.05, 0.10, 0.20, 0.40, 0.20),  # phone
    (0.20, 1.00, 0.50, 0.00, 0.15, 0.10, 0.20, 0.35),  # email
    (0.35, 0.05, 0.10, 0.00, 0.05, 0.30, 0.90, 0.05),  # wechat
    (0.80, 0.85, 0.70, 0.05, 0.30, 0.40, 0.50, 0.60),  # web_form
    (0.90, 0.30, 0.40, 0.45, 0.60, 0.60, 0.70, 0.10),  # store
    (0.70, 0.70, 0.50, 0.10, 0.10, 0.20, 0.30, 0.80),  # event
)
# Interaction kind probabilities (message, call, visit) by circle kind; last row: outside ties.
_KIND_P: Final[tuple[tuple[float, float, float], ...]] = (
    (0.60, 0.30, 0.10),
    (0.80, 0.14, 0.06),
    (0.70, 0.10, 0.20),
    (0.85, 0.10, 0.05),
    (0.85, 0.12, 0.03),
)
# Mean initiated ties per person by circle kind (scaled by ``ties_per_person / 3.5``).
_TIE_RATE: Final[tuple[float, ...]] = (3.6, 4.6, 2.8, 2.2)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the synthetic data set.

    Parameters
    ----------
    customers : int
        Number of true persons (at least 10; 50 is tiny, 1,000,000 is large).
    seed : int
        Random seed (non-negative). The same config always gives byte-identical files.
    employees : int or None
        Number of employees; ``None`` means ``max(3, round(customers / 200))``.
    campaigns : int or None
        Number of fission campaigns; ``None`` means ``clip(customers // 150, 2, 40)``.
    start, end : datetime.date
        First and last day (UTC) of the activity window; every timestamp lies inside it.
    channels_per_person : tuple of 4 floats
        Probabilities of appearing on 1, 2, 3 or 4 channels (normalised).
    channel_weights : tuple of 6 floats
        Relative popularity of the channels, in :data:`SOURCES` order.
    second_wechat_app_rate : float
        Probability that a WeChat user also appears in a second WeChat app (same unionid,
        another openid, one more contact record).
    circle_kind_weights : tuple of 4 floats
        Relative frequency of the circle kinds, in :data:`CIRCLE_KINDS` order.
    min_circle_size, max_circle_size : int
        Bounds of the heavy-tailed circle sizes.
    mixing : float
        Fraction of social ties (and referral invitations) that leave the person's circle.
    ties_per_person : float
        Mean number of social ties a person initiates.
    household_rate : float
        Fraction of persons living in a two-person household.
    shared_phone_rate, shared_email_rate : float
        Probability that a household's second member uses the first member's phone / e-mail.
    foreign_rate : float
        Fraction of persons living in Hong Kong, Singapore or the US.
    churn_rate : float
        Fraction of persons labelled churned (exact up to rounding).
    referral_rate : float
        Expected fraction of persons who are invited in some campaign.
    typo_rate : float
        Probability that a record's name carries a one-character typo.
    email_typo_rate : float
        Probability that a record's e-mail carries a one-character typo.
    traditional_rate : float
        Probability that a Chinese name is written in traditional characters.
    pinyin_rate : float
        Probability that a Chinese name is written in pinyin.
    case_noise_rate : float
        Probability of case / whitespace noise on a record's name and e-mail.
    name_phone_only_rate : float
        Probability that a (non-WeChat) record keeps only name and phone.
    missing_scale : float
        Multiplies every field's probability of being missing (0 = no missing fields beyond
        the per-source layout of ``name_phone_only_rate``; values above 1 remove more).

    Examples
    --------
    >>> GeneratorConfig(customers=50, seed=7).n_employees
    3
    >>> GeneratorConfig(customers=5)
    Traceback (most recent call last):
    ...
    ValueError: customers must be at least 10, got 5
    """

    customers: int = 1000
    seed: int = 0
    employees: int | None = None
    campaigns: int | None = None
    start: date = date(2023, 1, 1)
    end: date = date(2024, 12, 31)
    channels_per_person: tuple[float, float, float, float] = (0.30, 0.38, 0.22, 0.10)
    channel_weights: tuple[float, float, float, float, float, float] = (
        0.24,
        0.10,
        0.30,
        0.15,
        0.13,
        0.08,
    )
    second_wechat_app_rate: float = 0.2
    circle_kind_weights: tuple[float, float, float, float] = (0.3, 0.3, 0.2, 0.2)
    min_circle_size: int = 8
    max_circle_size: int = 60
    mixing: float = 0.2
    ties_per_person: float = 3.5
    household_rate: float = 0.1
    shared_phone_rate: float = 0.4
    shared_email_rate: float = 0.3
    foreign_rate: float = 0.05
    churn_rate: float = 0.15
    referral_rate: float = 0.15
    typo_rate: float = 0.04
    email_typo_rate: float = 0.03
    traditional_rate: float = 0.08
    pinyin_rate: float = 0.18
    case_noise_rate: float = 0.08
    name_phone_only_rate: float = 0.08
    missing_scale: float = 1.0

    def __post_init__(self) -> None:
        """Reject values the generator cannot honour."""
        if self.customers < 10:
            raise ValueError(f"customers must be at least 10, got {self.customers}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.employees is not None and self.employees < 1:
            raise ValueError(f"employees must be at least 1, got {self.employees}")
        if self.campaigns is not None and self.campaigns < 0:
            raise ValueError(f"campaigns must be non-negative, got {self.campaigns}")
        if (self.end - self.start).days < 60:
            raise ValueError("end must be at least 60 days after start")
        if not 1 <= self.min_circle_size <= self.max_circle_size:
            raise ValueError("need 1 <= min_circle_size <= max_circle_size")
        for name in (
            "second_wechat_app_rate",
            "mixing",
            "household_rate",
            "shared_phone_rate",
            "shared_email_rate",
            "foreign_rate",
            "churn_rate",
            "referral_rate",
            "typo_rate",
            "email_typo_rate",
            "traditional_rate",
            "pinyin_rate",
            "case_noise_rate",
            "name_phone_only_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.traditional_rate + self.pinyin_rate > 1.0:
            raise ValueError("traditional_rate + pinyin_rate must not exceed 1")
        if self.ties_per_person < 0 or self.missing_scale < 0:
            raise ValueError("ties_per_person and missing_scale must be non-negative")
        for name in ("channels_per_person", "channel_weights", "circle_kind_weights"):
            weights = getattr(self, name)
            if min(weights) < 0 or sum(weights) <= 0:
                raise ValueError(f"{name} must be non-negative with a positive sum")

    @property
    def n_employees(self) -> int:
        """Number of employees after applying the default."""
        if self.employees is not None:
            return self.employees
        return max(3, round(self.customers / 200))

    @property
    def n_campaigns(self) -> int:
        """Number of campaigns after applying the default."""
        if self.campaigns is not None:
            return self.campaigns
        return int(np.clip(self.customers // 150, 2, 40))


@dataclass(frozen=True)
class GeneratedFiles:
    """Paths :func:`generate` wrote, and the number of data rows in each.

    Attributes
    ----------
    contacts, events, employees, groups, campaigns : pathlib.Path
        The input files: ``contacts.csv``, ``events.jsonl``, ``employees.csv``, ``groups.csv``
        and ``campaigns.csv``.
    truth_records, truth_people : pathlib.Path
        The ground truth: ``truth_records.csv`` and ``truth_people.csv`` (not ingest inputs).
    counts : dict of str to int
        Data rows (headers excluded) per file, keyed by the attribute names above.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     files = generate(d, GeneratorConfig(customers=20, seed=3))
    ...     names = sorted(p.name for p in Path(d).iterdir())
    >>> names[:3]
    ['campaigns.csv', 'contacts.csv', 'employees.csv']
    >>> files.counts["contacts"] == files.counts["truth_records"]
    True
    """

    contacts: Path
    events: Path
    employees: Path
    groups: Path
    campaigns: Path
    truth_records: Path
    truth_people: Path
    counts: dict[str, int]


def generate(
    out_dir: Path | str,
    config: GeneratorConfig = GeneratorConfig(),
    *,
    progress: Progress | None = None,
) -> GeneratedFiles:
    """Write a synthetic SCRM data set and its ground truth into ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path or str
        Folder to write into; created if missing. Existing files of the same names are
        overwritten.
    config : GeneratorConfig
        Size, seed and noise knobs.
    progress : callable, optional
        ``progress(step_name, done, total)`` is called as each step advances, for progress bars.

    Returns
    -------
    GeneratedFiles
        The paths written and their data row counts.

    Examples
    --------
    >>> import csv, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     files = generate(d, GeneratorConfig(customers=50, seed=1))
    ...     with files.contacts.open(encoding="utf-8") as f:
    ...         header = next(csv.reader(f))
    >>> files.counts["truth_people"]
    50
    >>> header[:3]
    ['source', 'source_record_id', 'full_name']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: Progress = progress if progress is not None else _no_progress
    world = _World(config, report)
    return world.write(out)


def _no_progress(step: str, done: int, total: int) -> None:
    """Progress callback that ignores its arguments."""


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _rng(seed: int, stage: int, *extra: int) -> np.random.Generator:
    """An independent generator for one stage, so stages do not shift each other's draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, stage, *extra]))


def _norm(weights: Sequence[float]) -> F64:
    w = np.asarray(weights, dtype=np.float64)
    out: F64 = (w / w.sum()).astype(np.float64)
    return out


def _choice(rng: np.random.Generator, p: F64, size: int) -> I64:
    """Draw ``size`` category indices with probabilities ``p`` (fast inverse-CDF sampling)."""
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def _rand_strings(rng: np.random.Generator, n: int, length: int, alphabet: str) -> list[str]:
    """``n`` random strings of ``length`` characters drawn from an ASCII ``alphabet``."""
    if n == 0:
        return []
    table = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    idx = rng.integers(0, len(alphabet), size=n * length)
    raw = table[idx].tobytes().decode("ascii")
    return [raw[i : i + length] for i in range(0, n * length, length)]


def _unique_strings(
    values: list[str], regenerate: Callable[[int, int], list[str]], max_rounds: int = 50
) -> list[str]:
    """Make ``values`` unique by replacing later duplicates with ``regenerate(round, k)``."""
    for rnd in range(max_rounds):
        seen: set[str] = set()
        dup: list[int] = []
        for i, v in enumerate(values):
            if v in seen:
                dup.append(i)
            else:
                seen.add(v)
        if not dup:
            return values
        fresh = regenerate(rnd, len(dup))
        for i, v in zip(dup, fresh, strict=True):
            values[i] = v
    raise RuntimeError("could not make generated identifiers unique")  # pragma: no cover


def _typo_ascii(s: str, u: float, v: float, w: float) -> str:
    """One-character edit (substitute, delete, insert or transpose) of a Latin string."""
    n = len(s)
    c = _LOWER[int(w * 26) % 26]
    if n < 3:
        return s + c
    i = min(int(v * n), n - 1)
    op = int(u * 4)
    if op == 3 and i < n - 1 and s[i] != s[i + 1]:
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if op == 1:
        return s[:i] + s[i + 1 :]
    if op == 2:
        return s[:i] + (c.upper() if i == 0 and s[0].isupper() else c) + s[i:]
    if s[i].lower() == c:
        c = _LOWER[(int(w * 26) + 1) % 26]
    if s[i].isupper():
        c = c.upper()
    return s[:i] + c + s[i + 1 :]


def _typo_hanzi(s: str, v: float, pool: Sequence[tuple[str, str]], w: float) -> str:
    """Replace one Chinese character by another one from ``pool``."""
    i = min(int(v * len(s)), len(s) - 1)
    k = int(w * len(pool))
    c = pool[k][0]
    if c == s[i]:
        c = pool[(k + 1) % len(pool)][0]
    return s[:i] + c + s[i + 1 :]


def _iso(ts: I64) -> list[str]:
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` strings."""
    out: list[str] = np.datetime_as_string(
        ts.astype("datetime64[s]"), unit="s", timezone="UTC"
    ).tolist()
    return out


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(n)))


def _exp(rng: np.random.Generator, mean_days: float, size: int) -> I64:
    return (rng.exponential(mean_days * _DAY, size=size)).astype(np.int64)


def _group_starts(keys: I64) -> Bool:
    """Mask of positions where a run of equal sorted ``keys`` starts."""
    first = np.ones(len(keys), dtype=np.bool_)
    first[1:] = keys[1:] != keys[:-1]
    return first


# ---------------------------------------------------------------------------------------------
# The world: people, circles, records, events
# ---------------------------------------------------------------------------------------------


class _Events:
    """Column store of events (int32 payloads keep 20M events well under 1 GB).

    ``p1``/``p2`` are internal person indices, mapped to contact records once all events exist;
    ``k`` is a category index (kind, group, employee, campaign, product, tag, interest, stage,
    tier) and ``v`` an integer payload (count, invite code, employee, amount in cents, weight in
    thousandths).
    """

    def __init__(self) -> None:
        self.parts: list[tuple[int, I64, I32, I32, I32, I32]] = []

    def add(
        self,
        etype: int,
        time: I64,
        p1: I64,
        *,
        p2: I64 | None = None,
        k: I64 | None = None,
        v: I64 | None = None,
    ) -> None:
        n = len(time)
        minus = np.full(n, -1, dtype=np.int32)
        self.parts.append(
            (
                etype,
                time.astype(np.int64),
                p1.astype(np.int32),
                minus if p2 is None else p2.astype(np.int32),
                minus if k is None else k.astype(np.int32),
                minus if v is None else v.astype(np.int32),
            )
        )

    def build(self) -> tuple[I8, I64, I32, I32, I32, I32]:
        """Concatenate all parts (and forget them)."""
        parts, self.parts = self.parts, []
        etype: I8 = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int8) for p in parts])
        time: I64 = np.concatenate([p[1] for p in parts])
        p1: I32 = np.concatenate([p[2] for p in parts])
        p2: I32 = np.concatenate([p[3] for p in parts])
        k: I32 = np.concatenate([p[4] for p in parts])
        v: I32 = np.concatenate([p[5] for p in parts])
        return etype, time, p1, p2, k, v


class _World:
    """Everything generated for one config; built in ``__init__``, written by :meth:`write`."""

    def __init__(self, cfg: GeneratorConfig, report: Progress) -> None:
        self.cfg = cfg
        self.report = report
        self.n = cfg.customers
        self.t_start = int(datetime(*cfg.start.timetuple()[:3], tzinfo=UTC).timestamp())
        self.t_end = int(datetime(*cfg.end.timetuple()[:3], tzinfo=UTC).timestamp()) + _DAY - 1
        self.span = self.t_end - self.t_start
        self.n_emp = cfg.n_employees
        total_steps = 6
        report("synthetic: people", 0, total_steps)
        self._circles()
        self._people()
        report("synthetic: people", 1, total_steps)
        self._households()
        self._churn()
        report("synthetic: people", 2, total_steps)
        self._records()
        self._record_fields()
        report("synthetic: people", 3, total_steps)
        self.events = _Events()
        self._employees_and_groups()
        self._interests()
        self._funnel_orders_tiers()
        report("synthetic: people", 4, total_steps)
        self._interactions()
        self._referrals()
        self._tags()
        report("synthetic: people", 5, total_steps)
        self._finish_events()
        report("synthetic: people", 6, total_steps)

    # -- circles -------------------------------------------------------------------------------
    def _circles(self) -> None:
        cfg, n = self.cfg, self.n
        rng = _rng(cfg.seed, 1)
        lo, hi = cfg.min_circle_size, cfg.max_circle_size
        median = min(float(hi), max(float(lo), 1.75 * lo))
        draws = np.clip(
            np.rint(np.exp(rng.normal(np.log(median), 0.65, size=n // lo + 16))), lo, hi
        ).astype(np.int64)
        while int(draws.sum()) < n:  # pragma: no cover - only with odd size bounds
            draws = np.concatenate([draws, draws])
        csum = np.cumsum(draws)
        k = int(np.searchsorted(csum, n))
        sizes = draws[: k + 1].copy()
        sizes[k] = n - (int(csum[k - 1]) if k > 0 else 0)
        if k > 0 and sizes[k] < lo:
            sizes[k - 1] += sizes[k]
            sizes = sizes[:k]
        self.circle_size = sizes
        self.n_circles = len(sizes)
        self.circle_start = (np.cumsum(sizes) - sizes).astype(np.int64)
        self.circle_kind = _choice(rng, _norm(cfg.circle_kind_weights), self.n_circles)
        # Internal person index i is ordered by circle; person ids are a random permutation.
        self.circle_of = np.repeat(np.arange(self.n_circles, dtype=np.int64), sizes)
        self.local = np.arange(n, dtype=np.int64) - self.circle_start[self.circle_of]
        self.person_num = rng.permutation(n).astype(np.int64) + 1
        self.circle_num = rng.permutation(self.n_circles).astype(np.int64) + 1
        self.circle_city = _choice(rng, _norm([c[6] for c in _CN_CITIES]), self.n_circles)
        self.circle_emp = rng.integers(0, self.n_emp, size=self.n_circles)
        self.circle_risk = rng.normal(0.0, 1.0, size=self.n_circles)

    def _partners(self, rng: np.random.Generator, src: I64, inside: Bool) -> I64:
        """A random partner for each source person, inside or outside its circle."""
        c = self.circle_of[src]
        size = self.circle_size[c]
        start = self.circle_start[c]
        inside = (inside & (size > 1)) | (size >= self.n)
        out = np.empty(len(src), dtype=np.int64)
        ii = np.flatnonzero(inside)
        off = rng.integers(0, np.maximum(size[ii] - 1, 1))
        out[ii] = start[ii] + (self.local[src[ii]] + 1 + off) % size[ii]
        oo = np.flatnonzero(~inside)
        j = rng.integers(0, self.n - size[oo])
        out[oo] = np.where(j >= start[oo], j + size[oo], j)
        return out

    # -- people --------------------------------------------------------------------------------
    def _people(self) -> None:
        cfg, n = self.cfg, self.n
        rng = _rng(cfg.seed, 2)
        f = cfg.foreign_rate
        self.country = _choice(rng, _norm([1 - f, 0.45 * f, 0.3 * f, 0.25 * f]), n)
        self.gender = (rng.random(n) < 0.5).astype(np.int64)  # 0 male, 1 female
        latin_p = np.array([0.05, 0.45, 0.55, 0.8])[self.country]
        self.latin = rng.random(n) < latin_p
        sw = 1.0 / (np.arange(len(_SURNAMES)) + 6.0)
        self.surname = _choice(rng, sw / sw.sum(), n)
        glen = np.array([len(_MALE_GIVEN), len(_FEMALE_GIVEN)])[self.gender]
        self.g1 = (rng.random(n) * glen).astype(np.int64)
        self.g2 = np.where(rng.random(n) < 0.75, (rng.random(n) * glen).astype(np.int64), -1)
        llen = np.array([len(_LATIN_GIVEN[0]), len(_LATIN_GIVEN[1])])[self.gender]
        self.latin_given = (rng.random(n) * llen).astype(np.int64)
        self.latin_surname = rng.integers(0, 12, size=n)  # index into _LATIN_SURNAMES[country]
        # Birth dates: ages 18-75 at the end of the window.
        age = rng.normal(37.0, 11.0, size=n)
        odd = (age < 18.0) | (age >= 75.0)
        age[odd] = 18.0 + 57.0 * rng.random(int(odd.sum()))
        end_day = self.t_end // _DAY
        self.birth_day = (end_day - (age * 365.25).astype(np.int64)).astype(np.int64)
        # Address: most people live in their circle's city.
        own_city = _choice(rng, _norm([c[6] for c in _CN_CITIES]), n)
        self.city = np.where(rng.random(n) < 0.75, self.circle_city[self.circle_of], own_city)
        self.district = rng.integers(0, 3, size=n)
        self.road = rng.integers(0, len(_CN_ROADS), size=n)
        self.house_no = rng.integers(1, 400, size=n)
        self.unit = np.where(rng.random(n) < 0.6, rng.integers(101, 2800, size=n), -1)
        self.building = rng.integers(1, 30, size=n)
        self.postcode_tail = rng.integers(0, 1000, size=n)
        self.foreign_road = rng.integers(0, 4, size=n)
        # Company: colleague circles share one; others may work somewhere in a common pool.
        colleague = np.flatnonzero(self.circle_kind == _COLLEAGUE)
        pool = max(20, n // 30)
        self.companies = _make_companies(_rng(cfg.seed, 3), len(colleague) + pool)
        circle_company = np.full(self.n_circles, -1, dtype=np.int64)
        circle_company[colleague] = np.arange(len(colleague))
        cw = 1.0 / (np.arange(pool) + 3.0)
        pool_pick = len(colleague) + _choice(rng, cw / cw.sum(), n)
        has_job = rng.random(n) < 0.6
        self.company = np.where(has_job, pool_pick, -1)
        cc = circle_company[self.circle_of]
        self.company = np.where(cc >= 0, cc, self.company)
        # Engagement multiplies activity; price-sensitive trait drives discounts and a tag.
        self.engagement = np.exp(rng.normal(0.0, 0.5, size=n))
        self.price_sensitive = rng.random(n) < 0.2
        self._phones(rng)
        self._ids(rng)

    def _phones(self, rng: np.random.Generator) -> None:
        n = self.n
        national = np.zeros(n, dtype=np.int64)
        for ctry in range(4):
            idx = np.flatnonzero(self.country == ctry)
            national[idx] = _draw_national(rng, ctry, len(idx))
        # Unique per person (household sharing is applied later).
        for _ in range(50):
            key = self.country * 10**12 + national
            _, first = np.unique(key, return_index=True)
            dup = np.ones(n, dtype=np.bool_)
            dup[first] = False
            d = np.flatnonzero(dup)
            if len(d) == 0:
                break
            for ctry in range(4):
                dd = d[self.country[d] == ctry]
                national[dd] = _draw_national(rng, ctry, len(dd))
        self.phone_country = self.country.copy()
        self.phone_national = national

    def _emails(self, rng: np.random.Generator) -> None:
        n = self.n
        style = rng.integers(0, 6, size=n)
        dom = _choice(rng, _norm(_FREE_MAIL_W), n)
        num = rng.integers(10, 9999, size=n)
        qq = rng.integers(10_000, 3_000_000_000, size=n)
        use_company = (self.company >= 0) & (rng.random(n) < 0.2)
        year = (self.birth_day // 365.25 + 1970).astype(np.int64) % 100
        emails: list[str] = []
        qq_ok = ((style == 0) & ~self.latin & (self.country == 0)).tolist()
        for i, (given, sur, st, comp, d, yy, nn, q) in enumerate(
            zip(
                self.lat_given,
                self.lat_sur,
                style.tolist(),
                np.where(use_company, self.company, -1).tolist(),
                dom.tolist(),
                year.tolist(),
                num.tolist(),
                qq.tolist(),
                strict=True,
            )
        ):
            g, s = given.lower().replace("'", ""), sur.lower()
            if comp >= 0:
                local = f"{g}.{s}"
                domain = self.companies[comp][3]
            elif qq_ok[i]:
                emails.append(f"{q}@qq.com")
                continue
            else:
                domain = _FREE_MAIL[d]
                if st == 1:
                    local = f"{s}{g}"
                elif st == 2:
                    local = f"{s}.{g}"
                elif st in (0, 3):
                    local = f"{g}.{s}"
                elif st == 4:
                    local = f"{s}{g}{yy:02d}"
                else:
                    local = f"{g[0]}{s}{nn}"
            emails.append(f"{local}@{domain}")

        def again(rnd: int, k: int) -> list[str]:
            r = _rng(self.cfg.seed, 5, rnd)
            extra = r.integers(10, 99_999, size=k)
            return [f"user{e}.{r.integers(0, 10**6)}@{_FREE_MAIL[0]}" for e in extra]

        # Later duplicates get a number appended (or, if still clashing, a fresh address).
        seen: set[str] = set()
        for i, e in enumerate(emails):
            if e in seen:
                local, _, domain = e.partition("@")
                emails[i] = f"{local}{int(num[i])}@{domain}"
            seen.add(emails[i])
        self.email = _unique_strings(emails, again)

    def _ids(self, rng: np.random.Generator) -> None:
        n = self.n
        unionid = _rand_strings(rng, n, 27, _ID_ALPHABET)
        self.unionid = _unique_strings(
            ["o" + u for u in unionid],
            lambda rnd, k: [
                "o" + u for u in _rand_strings(_rng(self.cfg.seed, 6, rnd), k, 27, _ID_ALPHABET)
            ],
        )
        # 18-character resident ID numbers: region, birth date, sequence (odd for men), check.
        regions = np.array([int(c[5]) for c in _CN_CITIES], dtype=np.int64)
        region_city = np.where(rng.random(n) < 0.7, self.city, rng.integers(0, len(_CN_CITIES), n))
        seq = rng.integers(0, 500, size=n) * 2 + np.where(self.gender == 0, 1, 0)
        day = self.birth_day.astype("datetime64[D]")
        month = day.astype("datetime64[M]")
        ymd = (
            (day.astype("datetime64[Y]").astype(np.int64) + 1970) * 10_000
            + (month.astype(np.int64) % 12 + 1) * 100
            + (day - month).astype(np.int64)
            + 1
        )
        body = regions[region_city] * 10**11 + ymd * 1000 + seq
        cn = np.flatnonzero(self.country == 0)
        ok = np.zeros(n, dtype=np.bool_)
        for _ in range(500):  # later duplicates bump their sequence number
            first = np.unique(body[cn], return_index=True)[1]
            ok[:] = False
            ok[cn[first]] = True
            dup = cn[~ok[cn]]
            if len(dup) == 0:
                break
            body[dup] = body[dup] - body[dup] % 1000 + (body[dup] % 1000 + 2) % 1000
        total = np.zeros(n, dtype=np.int64)
        rest = body.copy()
        for weight in (2, 4, 8, 5, 10, 9, 7, 3, 6, 1, 2, 4, 8, 5, 10, 9, 7):  # last digit first
            total += rest % 10 * weight
            rest //= 10
        check = "10X98765432"
        self.id_number = [
            f"{b:017d}{check[t]}" if good else ""
            for b, t, good in zip(body.tolist(), (total % 11).tolist(), ok.tolist(), strict=True)
        ]

    def _names(self) -> None:
        """Per-person name parts: Latin (pinyin for Chinese names) and simplified Chinese."""
        lat_given: list[str] = []
        lat_sur: list[str] = []
        hz_given: list[str] = []
        hz_sur: list[str] = []
        for ctry, latin, gender, sur, g1, g2, lg, ls in zip(
            self.country.tolist(),
            self.latin.tolist(),
            self.gender.tolist(),
            self.surname.tolist(),
            self.g1.tolist(),
            self.g2.tolist(),
            self.latin_given.tolist(),
            self.latin_surname.tolist(),
            strict=True,
        ):
            sz, sp = _SURNAMES[sur]
            if latin:
                lat_given.append(_LATIN_GIVEN[gender][lg])
                lat_sur.append(sp if ctry == 0 else _LATIN_SURNAMES[ctry][ls])
                hz_given.append("")
                hz_sur.append("")
                continue
            pool = _GIVEN[gender]
            c1, p1 = pool[g1]
            c2, p2 = pool[g2] if g2 >= 0 else ("", "")
            lat_given.append((p1 + p2).capitalize())
            lat_sur.append(sp)
            hz_given.append(c1 + c2)
            hz_sur.append(sz)
        self.lat_given, self.lat_sur = lat_given, lat_sur
        self.hz_given, self.hz_sur = hz_given, hz_sur

    # -- households ----------------------------------------------------------------------------
    def _households(self) -> None:
        cfg, n = self.cfg, self.n
        rng = _rng(cfg.seed, 7)
        size = self.circle_size[self.circle_of]
        eligible = np.flatnonzero((self.local % 2 == 0) & (self.local + 1 < size))
        a = eligible[rng.random(len(eligible)) < cfg.household_rate]
        b = a + 1
        hh = np.arange(n, dtype=np.int64)
        hh[b] = a
        self.household = hh
        # The second member lives at the same address; half are relatives with one surname.
        for arr in (
            self.country,
            self.city,
            self.district,
            self.road,
            self.house_no,
            self.unit,
            self.building,
            self.postcode_tail,
            self.foreign_road,
        ):
            arr[b] = arr[a]
        same_name = rng.random(len(a)) < 0.5
        self.surname[b[same_name]] = self.surname[a[same_name]]
        self.latin_surname[b[same_name]] = self.latin_surname[a[same_name]]
        share_phone = rng.random(len(a)) < cfg.shared_phone_rate
        share_email = rng.random(len(a)) < cfg.shared_email_rate
        self.phone_country[b[share_phone]] = self.phone_country[a[share_phone]]
        self.phone_national[b[share_phone]] = self.phone_national[a[share_phone]]
        self._names()
        self._emails(_rng(cfg.seed, 4))
        for x, y in zip(a[share_email].tolist(), b[share_email].tolist(), strict=True):
            self.email[y] = self.email[x]
        for y in b.tolist():
            if self.country[y] != 0:
                self.id_number[y] = ""

    # -- churn ---------------------------------------------------------------------------------
    def _churn(self) -> None:
        cfg, n = self.cfg, self.n
        rng = _rng(cfg.seed, 8)
        score = (
            1.1 * self.circle_risk[self.circle_of]
            - 0.9 * np.log(self.engagement)
            + rng.normal(0.0, 1.0, size=n)
        )
        k = round(cfg.churn_rate * n)
        churned = np.zeros(n, dtype=np.bool_)
        churned[np.argsort(-score, kind="stable")[:k]] = True
        self.churned = churned
        span = self.span
        ct = self.t_start + (span * (0.6 + 0.35 * rng.random(n))).astype(np.int64)
        self.churn_time = np.where(churned, ct, self.t_end + 1).astype(np.int64)
        # First contact: uniform in the first 70% of the window, well before any churn.
        latest = np.minimum(self.t_start + int(0.7 * span), self.churn_time - 45 * _DAY)
        latest = np.maximum(latest, self.t_start)
        self.t0 = (self.t_start + rng.random(n) * (latest - self.t_start)).astype(np.int64)
        short = churned & (self.churn_time < self.t0 + 7 * _DAY)  # only in short windows
        self.churn_time[short] = np.minimum(self.t0[short] + 7 * _DAY, self.t_end)

    # -- contact records -----------------------------------------------------------------------
    def _records(self) -> None:
        cfg, n = self.cfg, self.n
        rng = _rng(cfg.seed, 9)
        k = 1 + _choice(rng, _norm(cfg.channels_per_person), n)
        w = np.maximum(np.asarray(cfg.channel_weights, dtype=np.float64), 1e-12)
        keys = np.log(w)[None, :] - np.log(-np.log(rng.random((n, 6))))
        order = np.argsort(-keys, axis=1).astype(np.int64)
        take = np.arange(6)[None, :] < k[:, None]
        person = np.repeat(np.arange(n, dtype=np.int64), k)
        source = order[take]
        slot = (np.arange(len(person)) - np.repeat(np.cumsum(k) - k, k)).astype(np.int64)
        app = np.zeros(len(person), dtype=np.int64)
        # A second WeChat app for some WeChat users (same unionid, another openid).
        wx = np.flatnonzero(
            (source == _SRC_WECHAT) & (rng.random(len(source)) < cfg.second_wechat_app_rate)
        )
        person = np.concatenate([person, person[wx]])
        source = np.concatenate([source, source[wx]])
        slot = np.concatenate([slot, np.full(len(wx), 9)])
        app = np.concatenate([app, np.ones(len(wx), dtype=np.int64)])
        m = len(person)
        created = self.t0[person] + np.where(slot == 0, 0, _exp(rng, 90.0, m) + 3600)
        limit = np.minimum(self.t_end, self.churn_time[person] - _DAY)
        created = np.minimum(created, np.maximum(limit, self.t0[person]))
        # File order: by creation time; ids count up per source in that order.
        perm = np.lexsort((rng.random(m), created))
        self.rec_person = person[perm]
        self.rec_source = source[perm]
        self.rec_app = app[perm]
        self.rec_created = created[perm].astype(np.int64)
        self.n_rec = m
        seq = np.zeros(m, dtype=np.int64)
        for s in range(6):
            idx = np.flatnonzero(self.rec_source == s)
            seq[idx] = np.arange(1, len(idx) + 1)
        self.rec_seq = seq
        # Per-person matrix of records sorted by creation time (for picking event references).
        by_person = np.lexsort((self.rec_created, self.rec_person))
        cnt = np.bincount(self.rec_person, minlength=n)
        width = int(cnt.max())
        starts = np.cumsum(cnt) - cnt
        col = np.arange(m) - np.repeat(starts, cnt)
        self.rec_mat = np.zeros((n, width), dtype=np.int32)
        # Creation times relative to the window start (int32 halves the random-access traffic).
        self.rec_ct = np.full((n, width), np.iinfo(np.int32).max, dtype=np.int32)
        rp = self.rec_person[by_person]
        self.rec_mat[rp, col] = by_person
        self.rec_ct[rp, col] = self.rec_created[by_person] - self.t_start
        # Openids: per (person, app); each app has its own prefix.
        app_prefix = ("oA1b2", "oZ9y8")
        wx_rec = np.flatnonzero(self.rec_source == _SRC_WECHAT)
        opens = _rand_strings(rng, len(wx_rec), 23, _ID_ALPHABET)
        self.openid = [""] * m
        for r, a, o in zip(wx_rec.tolist(), self.rec_app[wx_rec].tolist(), opens, strict=True):
            self.openid[r] = app_prefix[a] + o

    # -- which fields each record holds --------------------------------------------------------
    def _record_fields(self) -> None:
        """Draw which fields each record holds, then make every duplicate linkable.

        Fields are missing per source (:data:`_PRESENCE`). A person's second, third ...
        record must then share at least one piece of evidence a real system would have -
        phone, e-mail (as written, without a typo), WeChat unionid (between WeChat records),
        id number or birth date - with one of the person's earlier records; a record that
        shares only a name gets the field its channel most plausibly holds (see
        :data:`_REPAIR_ORDER`: the phone a WeChat user authorised, the e-mail of a web form
        ...) from those its earlier records hold. Two records that share nothing but a common
        Chinese name are not one person to any system, so the generator does not make them.
        """
        cfg, m = self.cfg, self.n_rec
        rng = _rng(cfg.seed, 16)
        src, per = self.rec_source, self.rec_person
        scale = cfg.missing_scale
        is_wx = src == _SRC_WECHAT
        minimal = (~is_wx) & (rng.random(m) < cfg.name_phone_only_rate)
        f: dict[str, Bool] = {"minimal": minimal}
        f["phone"] = _presence(rng, src, 0, scale) | minimal
        for name, col in (
            ("email", 1),
            ("split", 2),
            ("id", 3),
            ("birth", 4),
            ("addr", 5),
            ("gender", 6),
            ("company", 7),
        ):
            f[name] = _presence(rng, src, col, scale) & ~minimal
        f["name"] = ~((src == _SRC_EMAIL) & (rng.random(m) < 0.1 * scale))
        f["city_only"] = (~f["addr"]) & (rng.random(m) < 0.3) & ~minimal
        f["unionid"] = is_wx & (rng.random(m) < 1.0 - min(1.0, 0.1 * scale))
        f["email_typo"] = rng.random(m) < cfg.email_typo_rate
        has_id = np.array([bool(x) for x in self.id_number], dtype=bool)
        # Records of a person in creation order (the file order is by creation time already).
        order = np.lexsort((np.arange(m), per))
        p_sorted = per[order]
        first = np.ones(m, dtype=bool)
        first[1:] = p_sorted[1:] != p_sorted[:-1]
        starts = np.flatnonzero(first)
        seg = np.cumsum(first) - 1
        for _ in range(4):
            evidence = {
                "phone": f["phone"],
                "email": f["email"] & ~f["email_typo"],
                "unionid": f["unionid"],
                "id": f["id"] & has_id[per],
                "birth": f["birth"],
            }
            earlier = {k: _seen_before(v[order], first, seg) for k, v in evidence.items()}
            linked = np.zeros(m, dtype=bool)
            for k, v in evidence.items():
                linked |= v[order] & earlier[k]
            lonely = np.flatnonzero(~first & ~linked)
            if len(lonely) == 0:
                break
            for j in lonely.tolist():
                r = int(order[j])
                choices = _REPAIR_ORDER[int(src[r])]
                field = next((k for k in choices if earlier[k][j]), None)
                if field is None:
                    # Nothing earlier to share: the person's first record gets the field too.
                    field = choices[0]
                    anchor = int(order[starts[seg[j]]])
                    _give(f, anchor, field)
                _give(f, r, field)
        self.rec_fields = f

    # -- employees, groups ---------------------------------------------------------------------
    def _employees_and_groups(self) -> None:
        cfg, n, ev = self.cfg, self.n, self.events
        rng = _rng(cfg.seed, 10)
        e = self.n_emp
        # Employees served: 1-2 per customer, the circle's usual employee most often.
        emp1 = np.where(
            rng.random(n) < 0.75, self.circle_emp[self.circle_of], rng.integers(0, e, n)
        )
        has2 = (rng.random(n) < 0.3) & (e > 1)
        emp2 = (emp1 + 1 + rng.integers(0, max(e - 1, 1), size=n)) % e
        t1 = self.t0 + _exp(rng, 2.0, n) + 60
        t2 = self.t0 + _exp(rng, 60.0, n) + 3600
        ok2 = has2 & (t2 <= np.minimum(self.t_end, self.churn_time))
        ok1 = t1 <= self.t_end
        people = np.arange(n, dtype=np.int64)
        ev.add(_EV_EMP_ADDED, t1[ok1], people[ok1], k=emp1[ok1])
        ev.add(_EV_EMP_ADDED, t2[ok2], people[ok2], k=emp2[ok2])
        self.emp1, self.emp1_ok = emp1, ok1
        # Deletions: most churned customers delete an employee around their churn time.
        ch = self.churned
        dele = np.where(ch, rng.random(n) < 0.65, rng.random(n) < 0.04) & ok1
        pick2 = ok2 & (rng.random(n) < 0.5)
        demp = np.where(pick2, emp2, emp1)
        dadd = np.where(pick2, t2, t1)
        dt = np.where(
            ch,
            self.churn_time + (rng.random(n) * 10 * _DAY).astype(np.int64),
            dadd + (rng.random(n) * np.maximum(self.t_end - dadd, 0)).astype(np.int64),
        )
        dt = np.maximum(dt, dadd + 3600)
        dele &= dt <= self.t_end
        ev.add(_EV_EMP_DELETED, dt[dele], people[dele], k=demp[dele])
        # Groups.
        names: list[str] = []
        kinds: list[int] = []
        owners: list[int] = []
        interests: list[int] = []
        theme_count = np.zeros(len(_GROUP_THEMES), dtype=np.int64)
        interest_count = np.zeros(len(INTERESTS), dtype=np.int64)
        self.circle_interest = rng.integers(0, len(INTERESTS), size=(self.n_circles, 2))
        same = self.circle_interest[:, 0] == self.circle_interest[:, 1]
        self.circle_interest[same, 1] = (self.circle_interest[same, 1] + 1) % len(INTERESTS)
        circle_group = np.full(self.n_circles, -1, dtype=np.int64)
        join_p = np.zeros(self.n_circles)
        work_group = (self.circle_kind == _COLLEAGUE) & (rng.random(self.n_circles) < 0.3)
        themes = rng.integers(0, len(_GROUP_THEMES), size=self.n_circles)
        for c in range(self.n_circles):
            kind = int(self.circle_kind[c])
            if kind == _GROUP_CIRCLE or work_group[c]:
                th = int(themes[c])
                theme_count[th] += 1
                names.append(f"{_GROUP_THEMES[th]}{theme_count[th]}群")
                kinds.append(0)
                interests.append(-1)
                join_p[c] = 0.95 if kind == _GROUP_CIRCLE else 0.7
            elif kind == _INTEREST_CIRCLE:
                it = int(self.circle_interest[c, 0])
                interest_count[it] += 1
                names.append(f"{_INTEREST_ZH[it]}俱乐部{interest_count[it]}群")
                kinds.append(2)
                interests.append(it)
                join_p[c] = 0.9
            else:
                continue
            circle_group[c] = len(names) - 1
            owners.append(int(self.circle_emp[c]))
        n_comm = max(1, n // 200)
        comm_city = _choice(rng, _norm([c[6] for c in _CN_CITIES]), n_comm)
        city_count = np.zeros(len(_CN_CITIES), dtype=np.int64)
        first_comm = len(names)
        for j in range(n_comm):
            cty = int(comm_city[j])
            city_count[cty] += 1
            names.append(f"{_CN_CITIES[cty][0]}会员社区{city_count[cty]}")
            kinds.append(1)
            interests.append(-1)
            owners.append(int(rng.integers(0, e)))
        self.group_name, self.group_kind = names, kinds
        self.group_owner, self.group_interest = owners, interests
        # Memberships: circle groups, then community members from anywhere.
        g = circle_group[self.circle_of]
        joins = (g >= 0) & (rng.random(n) < join_p[self.circle_of])
        comm = rng.random(n) < 0.15
        member = np.concatenate([people[joins], people[comm]])
        group = np.concatenate([g[joins], first_comm + rng.integers(0, n_comm, int(comm.sum()))])
        m = len(member)
        jt = self.t0[member] + _exp(rng, 20.0, m) + 600
        ok = jt <= np.minimum(self.t_end, self.churn_time[member])
        member, group, jt = member[ok], group[ok], jt[ok]
        ev.add(_EV_GROUP_JOIN, jt, member, k=group)
        m = len(member)
        ch_m = self.churned[member]
        leave = np.where(ch_m, rng.random(m) < 0.5, rng.random(m) < 0.05)
        lt = np.where(
            ch_m,
            self.churn_time[member] + (rng.random(m) * 5 * _DAY).astype(np.int64),
            jt + (rng.random(m) * np.maximum(self.t_end - jt, 0)).astype(np.int64),
        )
        lt = np.maximum(lt, jt + 600)
        leave &= lt <= self.t_end
        ev.add(_EV_GROUP_LEAVE, lt[leave], member[leave], k=group[leave])

    # -- interests -----------------------------------------------------------------------------
    def _interests(self) -> None:
        cfg, n, ev = self.cfg, self.n, self.events
        rng = _rng(cfg.seed, 11)
        people = np.arange(n, dtype=np.int64)
        pop = 1.0 / (np.arange(len(INTERESTS)) + 8.0)
        pop = pop[rng.permutation(len(INTERESTS))]
        pop /= pop.sum()
        in_ic = self.circle_kind[self.circle_of] == _INTEREST_CIRCLE
        core_people = np.concatenate([people[in_ic], people[in_ic]])
        core_int = np.concatenate(
            [
                self.circle_interest[self.circle_of[in_ic], 0],
                self.circle_interest[self.circle_of[in_ic], 1],
            ]
        )
        core_w = 0.6 + 0.4 * rng.random(len(core_people))
        k = np.where(in_ic, rng.integers(0, 3, n), rng.integers(1, 4, n))
        rnd_people = np.repeat(people, k)
        rnd_int = _choice(rng, pop.astype(np.float64), len(rnd_people))
        rnd_w = 0.05 + 0.85 * rng.random(len(rnd_people))
        p = np.concatenate([core_people, rnd_people])
        it = np.concatenate([core_int, rnd_int])
        w = np.concatenate([core_w, rnd_w])
        key = p * len(INTERESTS) + it
        _, first = np.unique(key, return_index=True)
        first.sort()
        p, it, w = p[first], it[first], w[first]
        t = self.t0[p] + _exp(rng, 30.0, len(p)) + 300
        ok = t <= np.minimum(self.t_end, self.churn_time[p])
        ev.add(_EV_INTEREST, t[ok], p[ok], k=it[ok], v=np.rint(w[ok] * 1000).astype(np.int64))
        parenting = INTERESTS.index("parenting")
        self.parent = np.zeros(n, dtype=np.bool_)
        self.parent_time = np.full(n, self.t_end + 1, dtype=np.int64)
        sel = ok & (it == parenting) & (w > 0.5)
        self.parent[p[sel]] = True
        self.parent_time[p[sel]] = t[sel]

    # -- funnel, orders, tiers -----------------------------------------------------------------
    def _funnel_orders_tiers(self) -> None:
        cfg, n, ev = self.cfg, self.n, self.events
        rng = _rng(cfg.seed, 12)
        people = np.arange(n, dtype=np.int64)
        limit = np.minimum(self.t_end, self.churn_time)
        eng = np.log(self.engagement)
        stage_t = np.zeros((n, 4), dtype=np.int64)
        stage_t[:, 0] = self.t0
        reached = np.ones((n, 4), dtype=np.bool_)
        probs = (0.55, 0.6, 0.7)
        for s in range(1, 4):
            p = np.clip(probs[s - 1] + 0.15 * eng, 0.05, 0.95)
            stage_t[:, s] = stage_t[:, s - 1] + _exp(rng, 15.0, n) + 3600
            reached[:, s] = reached[:, s - 1] & (rng.random(n) < p) & (stage_t[:, s] <= limit)
        for s in range(4):
            sel = reached[:, s]
            ev.add(_EV_FUNNEL, stage_t[sel, s], people[sel], k=np.full(int(sel.sum()), s))
        self.meeting_time = np.where(reached[:, 2], stage_t[:, 2], self.t_end + 1)
        # Orders: the first at the order stage, then repeat purchases.
        buyers = people[reached[:, 3]]
        extra = rng.poisson(1.6 * self.engagement[buyers])
        rep = np.repeat(buyers, extra)
        lo = stage_t[rep, 3]
        rt = lo + (rng.random(len(rep)) * (self.t_end - lo)).astype(np.int64) + 60
        op = np.concatenate([buyers, rep])
        ot = np.concatenate([stage_t[buyers, 3], rt])
        drop = (ot > self.t_end) | ((ot > self.churn_time[op]) & (rng.random(len(op)) < 0.95))
        op, ot = op[~drop], ot[~drop]
        m = len(op)
        product = rng.integers(0, len(_PRODUCTS), size=m)
        price = np.array([p[1] for p in _PRODUCTS])[product]
        qty = 1 + rng.poisson(0.3, size=m)
        disc = np.where(
            self.price_sensitive[op],
            np.array([1.0, 0.9, 0.8, 0.7])[rng.integers(0, 4, m)],
            np.array([1.0, 1.0, 0.95, 0.9])[rng.integers(0, 4, m)],
        )
        cents = np.rint(price * qty * disc * 100).astype(np.int64)
        amount = cents / 100.0
        ev.add(_EV_ORDER, ot, op, k=product, v=cents)
        # Tier changes when cumulative spend crosses a threshold.
        o = np.lexsort((ot, op))
        sp, st, sa = op[o], ot[o], amount[o]
        starts = _group_starts(sp)
        csum = np.cumsum(sa)
        start_idx = np.maximum.accumulate(np.where(starts, np.arange(m), 0))
        cum = csum - (csum - sa)[start_idx]
        level = np.searchsorted(np.array(_TIER_THRESHOLDS), cum, side="right").astype(np.int64)
        prev = np.zeros_like(level)
        prev[1:] = level[:-1]
        prev[starts] = 0
        up = level > prev
        ev.add(_EV_TIER, st[up] + 60, sp[up], k=level[up])
        self.gold_time = np.full(n, self.t_end + 1, dtype=np.int64)
        g = up & (level >= 2)
        gp, gt = sp[g], st[g]
        first_g = np.unique(gp, return_index=True)[1]
        self.gold_time[gp[first_g]] = gt[first_g]

    # -- social ties ---------------------------------------------------------------------------
    def _interactions(self) -> None:
        cfg, n, ev = self.cfg, self.n, self.events
        rng = _rng(cfg.seed, 13)
        kind = self.circle_kind[self.circle_of]
        lam = np.array(_TIE_RATE)[kind] * self.engagement * (cfg.ties_per_person / 3.5)
        k = rng.poisson(lam)
        src = np.repeat(np.arange(n, dtype=np.int64), k)
        inside = rng.random(len(src)) >= cfg.mixing
        dst = self._partners(rng, src, inside)
        inside = self.circle_of[src] == self.circle_of[dst]
        tie_kind = np.where(inside, kind[src], 4)
        m_per = 1 + rng.poisson(1.5, size=len(src))
        a = np.repeat(src, m_per)
        b = np.repeat(dst, m_per)
        tk = np.repeat(tie_kind, m_per)
        m = len(a)
        lo = np.maximum(self.t0[a], self.t0[b])
        t = lo + (rng.random(m) * (self.t_end - lo)).astype(np.int64)
        late = (t > self.churn_time[a]) | (t > self.churn_time[b])
        keep = ~(late & (rng.random(m) < 0.9))
        a, b, tk, t = a[keep], b[keep], tk[keep], t[keep]
        m = len(a)
        cdf = np.cumsum(np.array(_KIND_P), axis=1)[tk]
        u = rng.random(m)
        ik = (u[:, None] >= cdf[:, :2]).sum(axis=1).astype(np.int64)
        count = 1 + rng.geometric(np.array([0.25, 0.7, 0.9])[ik]) - 1
        swap = rng.random(m) < 0.4
        fa = np.where(swap, b, a)
        fb = np.where(swap, a, b)
        ev.add(_EV_INTERACTION, t, fa, p2=fb, k=ik, v=count)

    # -- referrals -----------------------------------------------------------------------------
    def _referrals(self) -> None:
        cfg, n, ev = self.cfg, self.n, self.events
        rng = _rng(cfg.seed, 14)
        n_c = cfg.n_campaigns
        span = self.span
        dur = rng.integers(14, 46, size=n_c) * _DAY
        cs = self.t_start + (rng.random(n_c) * np.maximum(span - dur, _DAY)).astype(np.int64)
        order = np.argsort(cs, kind="stable")
        self.camp_start = (cs[order] // _DAY * _DAY).astype(np.int64)
        self.camp_end = (self.camp_start + dur[order] - 1).astype(np.int64)
        used = np.zeros(n, dtype=np.bool_)
        lambdas = (1.6, 1.1, 0.7, 0.35, 0.15)
        tree_size = 1.0
        prod = 1.0
        for lam in lambdas:
            prod *= lam
            tree_size += prod
        n_roots = max(1, round(cfg.referral_rate * n / max(n_c, 1) / max(tree_size - 1, 1e-9)))
        inviters: list[I64] = []
        invitees: list[I64] = []
        times: list[I64] = []
        camps: list[I64] = []
        for c in range(n_c):
            if cfg.referral_rate <= 0:
                break
            s, e = int(self.camp_start[c]), int(self.camp_end[c])
            roots = rng.choice(n, size=min(n_roots, n), replace=False).astype(np.int64)
            touched = [roots]
            used[roots] = True
            frontier = roots
            ftime = s + (rng.random(len(roots)) * (e - s) * 0.5).astype(np.int64)
            for lam in lambdas:
                kids = rng.poisson(lam, size=len(frontier))
                par = np.repeat(frontier, kids)
                ptime = np.repeat(ftime, kids)
                if len(par) == 0:
                    break
                t = ptime + 600 + _exp(rng, 2.0, len(par))
                in_time = t <= e
                par, t = par[in_time], t[in_time]
                cand = np.full(len(par), -1, dtype=np.int64)
                pending = np.arange(len(par))
                for _attempt in range(3):  # an invitation to someone taken is retried
                    inside = rng.random(len(pending)) >= cfg.mixing
                    prop = self._partners(rng, par[pending], inside)
                    ok = ~used[prop]
                    okc = np.flatnonzero(ok)
                    first = np.zeros(len(prop), dtype=np.bool_)
                    first[okc[np.unique(prop[okc], return_index=True)[1]]] = True
                    ok &= first
                    cand[pending[ok]] = prop[ok]
                    used[prop[ok]] = True
                    pending = pending[~ok]
                    if len(pending) == 0:
                        break
                got = cand >= 0
                par, cand, t = par[got], cand[got], t[got]
                used[cand] = True
                touched.append(cand)
                inviters.append(par)
                invitees.append(cand)
                times.append(t)
                camps.append(np.full(len(par), c, dtype=np.int64))
                frontier, ftime = cand, t
            used[np.concatenate(touched)] = False
        if inviters:
            inv = np.concatenate(inviters)
            ine = np.concatenate(invitees)
            tt = np.concatenate(times)
            cc = np.concatenate(camps)
        else:
            inv = ine = tt = cc = np.zeros(0, dtype=np.int64)
        pair, code_idx = np.unique(cc * n + inv, return_inverse=True)
        codes = _rand_strings(rng, len(pair), 8, _CODE_ALPHABET)
        self.invite_codes = _unique_strings(
            codes, lambda rnd, k: _rand_strings(_rng(cfg.seed, 15, rnd), k, 8, _CODE_ALPHABET)
        )
        ev.add(_EV_REFERRAL, tt, inv, p2=ine, k=cc, v=code_idx.astype(np.int64))
        self.invite_count = np.bincount(inv, minlength=n)
        self.referral_end = np.full(n, self.t_end + 1, dtype=np.int64)
        if len(inv):
            np.minimum.at(self.referral_end, inv, self.camp_end[cc])

    # -- tags ----------------------------------------------------------------------------------
    def _tags(self) -> None:
        cfg, n, ev = self.cfg, self.n, self.events
        rng = _rng(cfg.seed, 16)
        people = np.arange(n, dtype=np.int64)
        base = self.t0 + _exp(rng, 1.0, n)
        rnd_time = base + (rng.random(n) * np.maximum(self.t_end - base, 0)).astype(np.int64)
        ch = self.churned
        rules: list[tuple[str, Bool, I64]] = [
            ("VIP", rng.random(n) < 0.8, self.gold_time + _exp(rng, 3.0, n) + 3600),
            ("price-sensitive", self.price_sensitive & (rng.random(n) < 0.6), rnd_time),
            (
                "new-parent",
                self.parent & (rng.random(n) < 0.6),
                self.parent_time + _exp(rng, 10.0, n),
            ),
            ("high-intent", rng.random(n) < 0.35, self.meeting_time + _exp(rng, 2.0, n)),
            ("referrer", self.invite_count >= 2, self.referral_end + _exp(rng, 5.0, n)),
            (
                "at-risk",
                np.where(ch, rng.random(n) < 0.35, rng.random(n) < 0.03),
                np.where(
                    ch, self.churn_time - (rng.random(n) * 30 * _DAY).astype(np.int64), rnd_time
                ),
            ),
            (
                "complaint",
                np.where(ch, rng.random(n) < 0.2, rng.random(n) < 0.04),
                np.where(
                    ch, self.churn_time - (rng.random(n) * 60 * _DAY).astype(np.int64), rnd_time
                ),
            ),
            ("birthday-club", rng.random(n) < 0.1, rnd_time),
            (
                "key-account",
                (self.circle_kind[self.circle_of] == _COLLEAGUE) & (rng.random(n) < 0.15),
                rnd_time,
            ),
            ("wholesale", rng.random(n) < 0.02, rnd_time),
        ]
        tag_people: list[I64] = []
        tag_ids: list[I64] = []
        for name, sel, t in rules:
            t = np.maximum(t, self.t0 + 60)
            ok = sel & self.emp1_ok & (t <= self.t_end)
            ev.add(
                _EV_TAG, t[ok], people[ok], k=np.full(int(ok.sum()), _TAG[name]), v=self.emp1[ok]
            )
            tag_people.append(people[ok])
            tag_ids.append(np.full(int(ok.sum()), _TAG[name], dtype=np.int64))
        tp = np.concatenate(tag_people)
        ti = np.concatenate(tag_ids)
        o = np.lexsort((ti, tp))
        self.tag_people, self.tag_ids = tp[o], ti[o]
        self.tag_start = np.searchsorted(self.tag_people, np.arange(n + 1)).astype(np.int64)
        self.tag_id_list: list[int] = self.tag_ids.tolist()

    # -- finishing -----------------------------------------------------------------------------
    def _finish_events(self) -> None:
        """Map person indices to contact records, then sort all events by time."""
        etype, time, p1, p2, k, v = self.events.build()
        rng = _rng(self.cfg.seed, 17)
        m = len(time)
        r1 = np.empty(m, dtype=np.int32)
        r2 = np.full(m, -1, dtype=np.int32)
        step = 1 << 20
        for lo in range(0, m, step):  # in generation order: persons are mostly grouped there
            hi = min(m, lo + step)
            t = time[lo:hi]
            r1[lo:hi] = self._pick_records(p1[lo:hi], t, rng.random(hi - lo))
            two = np.flatnonzero(p2[lo:hi] >= 0)
            r2[lo + two] = self._pick_records(p2[lo:hi][two], t[two], rng.random(len(two)))
        del p1, p2
        keep = np.flatnonzero((time >= self.t_start) & (time <= self.t_end))
        order = keep[np.argsort(time[keep], kind="stable")]
        del keep
        self.ev_type = etype[order]
        self.ev_time = time[order]
        self.ev_k = k[order]
        self.ev_v = v[order]
        self.ev_r1 = r1[order]
        self.ev_r2 = r2[order]

    def _pick_records(self, person: I32, t: I64, u: F64) -> I32:
        """One of the person's contact records that already existed at time ``t``."""
        rel = (t - self.t_start).astype(np.int32)
        cnt = np.zeros(len(person), dtype=np.int64)
        for j in range(self.rec_mat.shape[1]):
            cnt += self.rec_ct[person, j] <= rel
        cnt = np.maximum(cnt, 1)
        col = np.minimum((u * cnt).astype(np.int64), cnt - 1)
        out: I32 = self.rec_mat[person, col]
        return out

    # -- writing -------------------------------------------------------------------------------
    def write(self, out: Path) -> GeneratedFiles:
        paths = {
            "contacts": out / "contacts.csv",
            "events": out / "events.jsonl",
            "employees": out / "employees.csv",
            "groups": out / "groups.csv",
            "campaigns": out / "campaigns.csv",
            "truth_records": out / "truth_records.csv",
            "truth_people": out / "truth_people.csv",
        }
        counts = {
            "contacts": self._write_contacts(paths["contacts"], paths["truth_records"]),
            "events": self._write_events(paths["events"]),
        }
        counts["employees"] = self._write_employees(paths["employees"])
        counts["groups"] = self._write_groups(paths["groups"])
        counts["campaigns"] = self._write_campaigns(paths["campaigns"])
        counts["truth_records"] = counts["contacts"]
        counts["truth_people"] = self._write_truth_people(paths["truth_people"])
        return GeneratedFiles(
            contacts=paths["contacts"],
            events=paths["events"],
            employees=paths["employees"],
            groups=paths["groups"],
            campaigns=paths["campaigns"],
            truth_records=paths["truth_records"],
            truth_people=paths["truth_people"],
            counts={k: counts[k] for k in paths},
        )

    def _write_contacts(self, path: Path, truth_path: Path) -> int:
        m = self.n_rec
        pw = _width(self.n, 6)
        with (
            path.open("w", encoding="utf-8", newline="") as f,
            truth_path.open("w", encoding="utf-8", newline="") as tf,
        ):
            w = csv.writer(f, lineterminator="\n")
            tw = csv.writer(tf, lineterminator="\n")
            w.writerow(CONTACT_COLUMNS)
            tw.writerow(TRUTH_RECORD_COLUMNS)
            for chunk, lo in enumerate(range(0, m, _CHUNK)):
                hi = min(m, lo + _CHUNK)
                rows = _render_records(self, lo, hi, _rng(self.cfg.seed, 18, chunk))
                w.writerows(rows)
                tw.writerows(
                    (
                        SOURCES[s],
                        f"{_SRC_PREFIX[s]}{q:08d}",
                        f"P{self.person_num[p]:0{pw}d}",
                    )
                    for s, q, p in zip(
                        self.rec_source[lo:hi].tolist(),
                        self.rec_seq[lo:hi].tolist(),
                        self.rec_person[lo:hi].tolist(),
                        strict=True,
                    )
                )
                self.report("synthetic: contacts.csv", hi, m)
        return m

    def _write_events(self, path: Path) -> int:
        m = len(self.ev_type)
        refs = [
            f"{SOURCES[s]}:{_SRC_PREFIX[s]}{q:08d}"
            for s, q in zip(self.rec_source.tolist(), self.rec_seq.tolist(), strict=True)
        ]
        ew = _width(self.n_emp, 4)
        gw = _width(len(self.group_name), 4)
        cw = _width(self.cfg.n_campaigns, 3)
        emp_ids = [f"E{i + 1:0{ew}d}" for i in range(self.n_emp)]
        group_ids = [f"G{i + 1:0{gw}d}" for i in range(len(self.group_name))]
        camp_ids = [f"C{i + 1:0{cw}d}" for i in range(self.cfg.n_campaigns)]
        order_no = 0
        with path.open("w", encoding="utf-8", newline="\n") as f:
            for lo in range(0, m, 1 << 18):
                hi = min(m, lo + (1 << 18))
                ty = self.ev_type[lo:hi]
                times = _iso(self.ev_time[lo:hi])
                lines = np.empty(hi - lo, dtype=object)
                for et in np.unique(ty).tolist():
                    sel = np.flatnonzero(ty == et)
                    ts = [times[i] for i in sel.tolist()]
                    r1 = [refs[r] for r in self.ev_r1[lo + sel].tolist()]
                    k = self.ev_k[lo + sel].tolist()
                    v = self.ev_v[lo + sel].tolist()
                    name = EVENT_TYPES[et]
                    head = '{"type":"' + name + '","time":"'
                    if et == _EV_INTERACTION:
                        r2 = [refs[r] for r in self.ev_r2[lo + sel].tolist()]
                        out = [
                            f'{head}{t}","kind":"{_INTERACTION_KINDS[a]}","from":"{p}",'
                            f'"to":"{q}","count":{c}}}'
                            for t, a, p, q, c in zip(ts, k, r1, r2, v, strict=True)
                        ]
                    elif et in (_EV_GROUP_JOIN, _EV_GROUP_LEAVE):
                        out = [
                            f'{head}{t}","customer":"{p}","group_id":"{group_ids[a]}"}}'
                            for t, p, a in zip(ts, r1, k, strict=True)
                        ]
                    elif et in (_EV_EMP_ADDED, _EV_EMP_DELETED):
                        out = [
                            f'{head}{t}","customer":"{p}","employee_id":"{emp_ids[a]}"}}'
                            for t, p, a in zip(ts, r1, k, strict=True)
                        ]
                    elif et == _EV_REFERRAL:
                        r2 = [refs[r] for r in self.ev_r2[lo + sel].tolist()]
                        out = [
                            f'{head}{t}","inviter":"{p}","invitee":"{q}",'
                            f'"campaign_id":"{camp_ids[a]}","invite_code":"{self.invite_codes[c]}"}}'
                            for t, p, q, a, c in zip(ts, r1, r2, k, v, strict=True)
                        ]
                    elif et == _EV_ORDER:
                        out = []
                        for t, p, a, c in zip(ts, r1, k, v, strict=True):
                            order_no += 1
                            out.append(
                                f'{head}{t}","customer":"{p}","order_id":"O{order_no:09d}",'
                                f'"amount":{c // 100}.{c % 100:02d},"product":"{_PRODUCTS[a][0]}"}}'
                            )
                    elif et == _EV_TAG:
                        out = [
                            f'{head}{t}","customer":"{p}","tag":"{TAGS[a]}",'
                            f'"employee_id":"{emp_ids[c]}"}}'
                            for t, p, a, c in zip(ts, r1, k, v, strict=True)
                        ]
                    elif et == _EV_INTEREST:
                        out = [
                            f'{head}{t}","customer":"{p}","interest":"{INTERESTS[a]}",'
                            f'"weight":{c // 1000}.{c % 1000:03d}}}'
                            for t, p, a, c in zip(ts, r1, k, v, strict=True)
                        ]
                    elif et == _EV_FUNNEL:
                        out = [
                            f'{head}{t}","customer":"{p}","stage":"{_FUNNEL_STAGES[a]}"}}'
                            for t, p, a in zip(ts, r1, k, strict=True)
                        ]
                    else:  # tier_change
                        out = [
                            f'{head}{t}","customer":"{p}","tier":"{_TIERS[a]}"}}'
                            for t, p, a in zip(ts, r1, k, strict=True)
                        ]
                    lines[sel] = out
                f.write("\n".join(lines.tolist()))
                f.write("\n")
                self.report("synthetic: events.jsonl", hi, m)
        return m

    def _write_employees(self, path: Path) -> int:
        rng = _rng(self.cfg.seed, 19)
        e = self.n_emp
        ew = _width(e, 4)
        gender = rng.integers(0, 2, size=e)
        sw = 1.0 / (np.arange(len(_SURNAMES)) + 6.0)
        sur = _choice(rng, sw / sw.sum(), e)
        g1 = rng.random(e)
        g2 = rng.random(e)
        two = rng.random(e) < 0.7
        team = rng.integers(0, len(_TEAMS), size=e)
        seen: dict[str, int] = {}
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(EMPLOYEE_COLUMNS)
            for i in range(e):
                pool = _GIVEN[int(gender[i])]
                a = pool[int(g1[i] * len(pool))]
                b = pool[int(g2[i] * len(pool))] if two[i] else ("", "")
                sz, sp = _SURNAMES[int(sur[i])]
                local = f"{(a[1] + b[1])}.{sp.lower()}"
                seen[local] = seen.get(local, 0) + 1
                if seen[local] > 1:
                    local += str(seen[local])
                w.writerow(
                    (
                        f"E{i + 1:0{ew}d}",
                        sz + a[0] + b[0],
                        _TEAMS[int(team[i])],
                        f"{local}@staff.example.cn",
                    )
                )
        return e

    def _write_groups(self, path: Path) -> int:
        gw = _width(len(self.group_name), 4)
        ew = _width(self.n_emp, 4)
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(GROUP_COLUMNS)
            for i, (name, kind, owner, it) in enumerate(
                zip(
                    self.group_name,
                    self.group_kind,
                    self.group_owner,
                    self.group_interest,
                    strict=True,
                )
            ):
                w.writerow(
                    (
                        f"G{i + 1:0{gw}d}",
                        name,
                        _GROUP_KINDS[kind],
                        f"E{owner + 1:0{ew}d}",
                        INTERESTS[it] if it >= 0 else "",
                    )
                )
        return len(self.group_name)

    def _write_campaigns(self, path: Path) -> int:
        n_c = self.cfg.n_campaigns
        cw = _width(n_c, 3)
        starts = _iso(self.camp_start)
        ends = _iso(self.camp_end)
        seen: dict[str, int] = {}
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(CAMPAIGN_COLUMNS)
            for i in range(n_c):
                name = f"{_CAMPAIGN_NAMES[int(starts[i][5:7]) - 1]} {starts[i][:4]}"
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:
                    name += f" #{seen[name]}"
                w.writerow((f"C{i + 1:0{cw}d}", name, starts[i], ends[i]))
        return n_c

    def _write_truth_people(self, path: Path) -> int:
        n = self.n
        pw = _width(n, 6)
        kw = _width(self.n_circles, 4)
        order = np.argsort(self.person_num, kind="stable")
        # Household ids numbered by first appearance in person-id order.
        hh = self.household[order]
        _, first = np.unique(hh, return_index=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(1, len(first) + 1)
        hh_num = rank[np.searchsorted(np.unique(hh), hh)]
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(TRUTH_PEOPLE_COLUMNS)
            circle = self.circle_of[order]
            w.writerows(
                (f"P{p:0{pw}d}", f"K{c:0{kw}d}", CIRCLE_KINDS[k], ch, f"H{h:0{pw}d}")
                for p, c, k, ch, h in zip(
                    self.person_num[order].tolist(),
                    self.circle_num[circle].tolist(),
                    self.circle_kind[circle].tolist(),
                    self.churned[order].astype(np.int64).tolist(),
                    hh_num.tolist(),
                    strict=True,
                )
            )
        self.report("synthetic: truth", n, n)
        return n


# ---------------------------------------------------------------------------------------------
# Generation helpers outside the class
# ---------------------------------------------------------------------------------------------


def _draw_national(rng: np.random.Generator, country: int, size: int) -> I64:
    """National significant numbers of mobile phones in ``country``."""
    if country == 0:
        pre = np.array(_CN_MOBILE_PREFIXES)[rng.integers(0, len(_CN_MOBILE_PREFIXES), size)]
        return (pre * 10**8 + rng.integers(0, 10**8, size)).astype(np.int64)
    if country == 1:
        pre = np.array(_HK_MOBILE_PREFIXES)[rng.integers(0, len(_HK_MOBILE_PREFIXES), size)]
        return (pre * 10**6 + rng.integers(0, 10**6, size)).astype(np.int64)
    if country == 2:
        pre = np.array(_SG_MOBILE_PREFIXES)[rng.integers(0, len(_SG_MOBILE_PREFIXES), size)]
        return (pre * 10**6 + rng.integers(0, 10**6, size)).astype(np.int64)
    area = np.array(_US_AREA_CODES)[rng.integers(0, len(_US_AREA_CODES), size)]
    exch = rng.integers(2, 10, size) * 100 + rng.integers(0, 100, size)
    exch = np.where(exch % 100 == 11, exch + 1, exch)
    out: I64 = (area * 10**7 + exch * 10**4 + rng.integers(0, 10**4, size)).astype(np.int64)
    return out


def _make_companies(rng: np.random.Generator, count: int) -> list[tuple[str, str, str, str]]:
    """``count`` distinct companies as (full zh name, short zh name, English name, domain)."""
    nb, ni, nc = len(_BRAND_CHARS), len(_INDUSTRIES), len(_CN_CITIES)
    out: list[tuple[str, str, str, str]] = []
    seen: set[int] = set()
    while len(out) < count:
        k = 2 * (count - len(out)) + 8
        b1 = rng.integers(0, nb, k)
        b2 = rng.integers(0, nb, k)
        ind = rng.integers(0, ni, k)
        cty = rng.integers(0, nc, k)
        listed = rng.random(k) < 0.15
        for i in range(k):
            if b1[i] == b2[i]:
                continue
            key = ((int(b1[i]) * nb + int(b2[i])) * ni + int(ind[i])) * nc + int(cty[i])
            if key in seen:
                continue
            seen.add(key)
            c1, p1 = _BRAND_CHARS[int(b1[i])]
            c2, p2 = _BRAND_CHARS[int(b2[i])]
            zi, en, dom = _INDUSTRIES[int(ind[i])]
            city = _CN_CITIES[int(cty[i])]
            brand_py = (p1 + p2).capitalize()
            suffix = "股份有限公司" if listed[i] else "有限公司"
            out.append(
                (
                    f"{city[0]}{c1}{c2}{zi}{suffix}",
                    f"{c1}{c2}{zi}",
                    f"{city[1].replace(chr(39), '')} {brand_py} {en} Co., Ltd.",
                    f"{p1}{p2}{dom}{int(cty[i]):02d}.com.cn",
                )
            )
            if len(out) == count:
                break
    return out


def _fmt_phone(country: int, nat: int, style: int) -> str:
    """Render a phone number in one of the formats seen in real exports."""
    d = str(nat)
    if country == 0:
        a, b, c = d[:3], d[3:7], d[7:]
        if style == 0:
            return f"+86 {a} {b} {c}"
        if style == 1:
            return f"0086-{a}-{b}-{c}"
        if style == 2:
            return d
        if style == 3:
            return f"{a}-{b}-{c}"
        if style == 4:
            return f"(+86){d}"
        if style == 5:
            return f"+86{d}"
        return f"{a} {b} {c}"
    if country in (1, 2):
        cc = _CALLING_CODE[country]
        a, b = d[:4], d[4:]
        style %= 4
        if style == 0:
            return f"+{cc} {a} {b}"
        if style == 1:
            return f"+{cc}{d}"
        if style == 2:
            return f"00{cc} {a} {b}"
        return f"(+{cc}){a}-{b}"
    a, b, c = d[:3], d[3:6], d[6:]
    style %= 4
    if style == 0:
        return f"+1 {a}-{b}-{c}"
    if style == 1:
        return f"+1 ({a}) {b}-{c}"
    if style == 2:
        return f"+1{d}"
    return f"001-{a}-{b}-{c}"


_PHONE_STYLE_P: Final[F64] = _norm((0.2, 0.08, 0.3, 0.12, 0.08, 0.15, 0.07))
_GENDER_STYLES: Final[tuple[tuple[str, str], ...]] = (
    ("M", "F"),
    ("male", "female"),
    ("男", "女"),
)


def _presence(rng: np.random.Generator, src: I64, col: int, scale: float) -> Bool:
    p = np.array([row[col] for row in _PRESENCE])[src]
    p = 1.0 - np.minimum(1.0, (1.0 - p) * scale)
    return rng.random(len(src)) < p


#: Fields given to a record that shares nothing but a name with its person's earlier records,
#: in the order its channel most plausibly holds them (by :data:`SOURCES` code).
_REPAIR_ORDER: Final[tuple[tuple[str, ...], ...]] = (
    ("phone", "email", "birth"),  # phone
    ("email", "phone", "birth"),  # email
    ("phone", "unionid", "birth"),  # wechat: the phone a user authorised in a mini program
    ("phone", "email", "birth"),  # web_form
    ("phone", "id", "birth"),  # store
    ("phone", "email", "birth"),  # event
)


def _seen_before(values: Bool, first: Bool, seg: I64) -> Bool:
    """For records sorted by person: whether an earlier record of the same person has ``values``."""
    count = np.cumsum(values.astype(np.int64))
    before = np.concatenate([[0], count[:-1]])
    at_start = before[np.flatnonzero(first)][seg]
    seen: Bool = (before - at_start) > 0
    return seen


def _give(fields: dict[str, Bool], record: int, name: str) -> None:
    """Make ``record`` hold field ``name`` as evidence (an e-mail then has no typo)."""
    fields[name][record] = True
    if name == "email":
        fields["email_typo"][record] = False


def _render_records(w: _World, lo: int, hi: int, rng: np.random.Generator) -> list[list[str]]:
    """Rows of ``contacts.csv`` for records ``lo:hi`` (all random draws come from ``rng``)."""
    cfg = w.cfg
    n = hi - lo
    src = w.rec_source[lo:hi]
    per = w.rec_person[lo:hi]
    fields = {k: v[lo:hi] for k, v in w.rec_fields.items()}
    minimal = fields["minimal"]
    has_phone = fields["phone"]
    has_email = fields["email"]
    has_split = fields["split"]
    has_id = fields["id"]
    has_birth = fields["birth"]
    has_addr = fields["addr"]
    has_gender = fields["gender"]
    has_company = fields["company"]
    has_name = fields["name"]
    city_only = fields["city_only"]
    has_unionid = fields["unionid"]
    # Name variant: 0 simplified, 1 traditional, 2 pinyin surname-first, 3 pinyin given-first.
    u = rng.random(n)
    trad_p = np.where(w.country[per] == 1, 0.6, cfg.traditional_rate)
    variant = np.where(u < trad_p, 1, 0)
    py = rng.random(n) < cfg.pinyin_rate
    variant = np.where(py, np.where(rng.random(n) < 0.65, 2, 3), variant)
    name_typo = rng.random(n) < cfg.typo_rate
    case_noise = rng.random(n) < cfg.case_noise_rate
    email_typo = fields["email_typo"]
    email_case = rng.random(n) < cfg.case_noise_rate
    noise_kind = rng.integers(0, 4, size=n)
    typo_u = rng.random((n, 4))
    phone_style = _choice(rng, _PHONE_STYLE_P, n)
    birth_style = _choice(rng, _norm((0.8, 0.12, 0.08)), n)
    gender_style = _choice(rng, _norm((0.6, 0.2, 0.2)), n)
    company_style = _choice(rng, _norm((0.45, 0.3, 0.15, 0.1)), n)
    city_style = _choice(rng, _norm((0.5, 0.3, 0.2)), n)
    street_drop = rng.random((n, 2))
    addr_parts = rng.random((n, 3))
    tag_u = rng.random((n, 2))
    births = np.array(w.birth_day[per], dtype="datetime64[D]").astype(str).tolist()
    created = _iso(w.rec_created[lo:hi])
    # Python lists: indexing them is far cheaper than indexing numpy arrays element-wise.
    p_country = w.country[per].tolist()
    p_latin = w.latin[per].tolist()
    p_gender = w.gender[per].tolist()
    p_phone_cc = w.phone_country[per].tolist()
    p_phone = w.phone_national[per].tolist()
    p_city = w.city[per].tolist()
    p_district = w.district[per].tolist()
    p_road = w.road[per].tolist()
    p_house = w.house_no[per].tolist()
    p_unit = w.unit[per].tolist()
    p_building = w.building[per].tolist()
    p_post = w.postcode_tail[per].tolist()
    p_froad = w.foreign_road[per].tolist()
    p_company = w.company[per].tolist()
    p_tag_lo = w.tag_start[per].tolist()
    p_tag_hi = w.tag_start[per + 1].tolist()
    rec_seq = w.rec_seq[lo:hi].tolist()
    flags = np.stack(
        [
            minimal,
            has_phone,
            has_email,
            has_split,
            has_id,
            has_birth,
            has_addr,
            has_gender,
            has_company,
            has_name,
            city_only,
            has_unionid,
            name_typo,
            case_noise,
            email_typo,
            email_case,
            street_drop[:, 0] > 0.25,
            street_drop[:, 1] > 0.3,
            addr_parts[:, 0] < 0.8,
            addr_parts[:, 1] < 0.7,
            addr_parts[:, 2] < 0.6,
            tag_u[:, 0] < 0.3,
            tag_u[:, 1] < 0.25,
        ],
        axis=1,
    ).tolist()
    styles = np.stack(
        [
            variant,
            noise_kind,
            phone_style,
            birth_style,
            gender_style,
            company_style,
            city_style,
        ],
        axis=1,
    ).tolist()
    typos = typo_u.tolist()
    tag_ids = w.tag_id_list
    rows: list[list[str]] = []
    for j, (i, s, f, sty, tu) in enumerate(
        zip(per.tolist(), src.tolist(), flags, styles, typos, strict=True)
    ):
        (
            _minimal,
            f_phone,
            f_email,
            f_split,
            f_id,
            f_birth,
            f_addr,
            f_gender,
            f_company,
            f_name,
            f_city_only,
            f_unionid,
            f_typo,
            f_case,
            f_email_typo,
            f_email_case,
            keep_district,
            keep_unit,
            f_street,
            f_state,
            f_postcode,
            f_person_tags,
            f_source_tag,
        ) = f
        variant_j, nk, phone_st, birth_st, gender_st, company_st, cs = sty
        ctry = p_country[j]
        # -- name
        if p_latin[j]:
            given, sur = w.lat_given[i], w.lat_sur[i]
            if f_typo:
                if tu[0] < 0.7:
                    given = _typo_ascii(given, tu[1], tu[2], tu[3])
                else:
                    sur = _typo_ascii(sur, tu[1], tu[2], tu[3])
            var = variant_j % 3
            if var == 1:
                full = f"{sur} {given}"
            elif var == 2:
                full = f"{given} {sur.upper()}"
            else:
                full = f"{given} {sur}"
        elif variant_j >= 2:
            given, sur = w.lat_given[i], w.lat_sur[i]
            if f_typo:
                if tu[0] < 0.7:
                    given = _typo_ascii(given, tu[1], tu[2], tu[3])
                else:
                    sur = _typo_ascii(sur, tu[1], tu[2], tu[3])
            full = f"{sur} {given}" if variant_j == 2 else f"{given} {sur}"
        else:
            given, sur = w.hz_given[i], w.hz_sur[i]
            if f_typo:
                if tu[0] < 0.8:
                    given = _typo_hanzi(given, tu[2], _GIVEN[p_gender[j]], tu[3])
                else:
                    sur = _typo_hanzi(sur, tu[2], _SURNAMES[:40], tu[3])
            if variant_j == 1:
                given, sur = given.translate(_TRAD_TABLE), sur.translate(_TRAD_TABLE)
            full = sur + given
        if f_case:
            if full.isascii():
                full = (full.lower(), full.upper(), full.replace(" ", "  "), f" {full} ")[nk]
            else:
                full = (f"{sur} {given}", f"{full} ", f" {full}", f"{sur}\u3000{given}")[nk]
        if not f_name:
            full = ""
        g_col, s_col = (given, sur) if f_split and f_name else ("", "")
        # -- phone and e-mail
        phone = _fmt_phone(p_phone_cc[j], p_phone[j], phone_st) if f_phone else ""
        email = ""
        if f_email:
            email = w.email[i]
            if f_email_typo:
                local, _, domain = email.partition("@")
                email = f"{_typo_ascii(local, tu[3], tu[1], tu[0])}@{domain}"
            if f_email_case:
                local, _, domain = email.partition("@")
                email = (
                    f"{local.capitalize()}@{domain}",
                    email.upper(),
                    f"{local}@{domain.upper()}",
                    f" {email} ",
                )[nk]
        unionid = w.unionid[i] if f_unionid else ""
        id_number = w.id_number[i] if f_id else ""
        if f_case and id_number.endswith("X"):
            id_number = id_number[:-1] + "x"
        birth = ""
        if f_birth:
            b = births[j]
            birth = b if birth_st == 0 else b.replace("-", "/" if birth_st == 1 else "")
        # -- address
        street = city = state = postcode = ""
        if f_addr or f_city_only:
            if ctry == 0:
                cinfo = _CN_CITIES[p_city[j]]
                city = (cinfo[0], cinfo[0] + "市", cinfo[1])[cs]
                if f_addr:
                    if f_street:
                        dist = cinfo[7][p_district[j]] if keep_district else ""
                        unit = ""
                        if p_unit[j] >= 0 and keep_unit:
                            unit = f"{p_building[j]}栋{p_unit[j]}室"
                        street = f"{dist}{_CN_ROADS[p_road[j]]}{p_house[j]}号{unit}"
                    if f_state:
                        state = (cinfo[2], cinfo[2].rstrip("省市"), cinfo[3])[cs]
                    if f_postcode:
                        postcode = f"{cinfo[4]}{p_post[j]:03d}"
            else:
                finfo = _FOREIGN_CITY[ctry]
                city = finfo[1] if cs == 1 else finfo[0]
                if f_addr:
                    if f_street:
                        street = f"{p_house[j]} {_FOREIGN_ROADS[ctry][p_froad[j]]}"
                    if f_state:
                        state = finfo[2][cs % len(finfo[2])]
                    if f_postcode and ctry != 1:
                        width = 6 if ctry == 2 else 5
                        digits = width - len(finfo[3])
                        postcode = f"{finfo[3]}{p_post[j] % 10**digits:0{digits}d}"
        gender = _GENDER_STYLES[gender_st][p_gender[j]] if f_gender else ""
        company = ""
        if f_company and p_company[j] >= 0:
            comp = w.companies[p_company[j]]
            company = comp[company_st] if company_st < 3 else comp[0][2:]
        # -- tags: CRM tags synced into the source, plus source-system labels
        tags = ""
        if f_person_tags and p_tag_hi[j] > p_tag_lo[j]:
            tags = ";".join(TAGS[t] for t in tag_ids[p_tag_lo[j] : p_tag_hi[j]])
        if f_source_tag:
            tags = f"{tags};{_SOURCE_TAGS[s]}" if tags else _SOURCE_TAGS[s]
        rows.append(
            [
                SOURCES[s],
                f"{_SRC_PREFIX[s]}{rec_seq[j]:08d}",
                full,
                g_col,
                s_col,
                phone,
                email,
                unionid,
                w.openid[lo + j],
                id_number,
                birth,
                street,
                city,
                state,
                postcode,
                gender,
                company,
                created[j],
                tags,
            ]
        )
    return rows
