"""The code lists of intake: sectors (行业) and product or service categories (商品/服务类别).

A complaint names one sector (the business's trade) and optionally one category (what was bought). Codes are
stable English keys; names are for display. The lists cover the sectors of the Golmud seed (car repair, catering
and entertainment, hotels, home renovation, toys, school supplies, gas appliances, e-bikes, food, online sales of
local specialities), the usual 12315 trades, and financial services (the CFPB replay data). Add rows, never rename.
"""

from __future__ import annotations

from types import MappingProxyType

SECTORS: MappingProxyType[str, str] = MappingProxyType({
    "car_repair": "汽车维修",
    "catering_entertainment": "餐饮娱乐",
    "hotels": "住宿酒店",
    "home_renovation": "家居装修",
    "toys": "玩具",
    "school_supplies": "文具学习用品",
    "gas_appliances": "燃气器具",
    "e_bikes": "电动自行车",
    "food": "食品",
    "online_shopping": "网络购物（含地方特产网售）",
    "retail": "商场超市零售",
    "household_appliances": "家用电器",
    "telecom": "通信服务",
    "education_training": "教育培训",
    "healthcare_beauty": "医疗美容",
    "tourism": "旅游服务",
    "transport": "交通运输",
    "property_services": "物业服务",
    "finance": "金融服务",
    "other": "其他",
})

CATEGORIES: MappingProxyType[str, str] = MappingProxyType({
    "car_repair.maintenance": "汽车保养",
    "car_repair.accident_repair": "事故车维修",
    "car_repair.parts": "汽车配件",
    "catering.restaurant_meal": "餐饮服务",
    "catering.prepaid_card": "预付式消费卡",
    "entertainment.ktv": "KTV 娱乐",
    "hotels.room": "客房服务",
    "hotels.booking": "预订与退订",
    "home_renovation.contract": "装修工程",
    "home_renovation.materials": "建材",
    "home_renovation.furniture": "家具",
    "toys.children": "儿童玩具",
    "school_supplies.stationery": "文具",
    "school_supplies.books": "教辅图书",
    "gas_appliances.water_heater": "燃气热水器",
    "gas_appliances.stove": "燃气灶具",
    "gas_appliances.pipe_and_valve": "燃气管件阀门",
    "e_bikes.vehicle": "电动自行车整车",
    "e_bikes.battery": "电池与充电器",
    "food.local_specialty": "地方特产（枸杞、牦牛肉等）",
    "food.dairy": "乳制品",
    "food.packaged": "预包装食品",
    "food.fresh": "生鲜食品",
    "food.health_supplement": "保健食品",
    "appliances.large": "大家电",
    "appliances.small": "小家电",
    "electronics.phone": "手机",
    "electronics.computer": "电脑及配件",
    "clothing.apparel": "服装鞋帽",
    "telecom.mobile_plan": "移动通信套餐",
    "telecom.broadband": "宽带",
    "education.course": "培训课程",
    "health.cosmetic_procedure": "医疗美容项目",
    "tourism.package_tour": "旅游团",
    "transport.ticket": "客运票务",
    "property.management_fee": "物业费",
    "finance.credit_reporting": "征信服务",
    "finance.debt_collection": "债务催收",
    "finance.mortgage": "住房贷款",
    "finance.consumer_loan": "消费贷款",
    "finance.credit_card": "信用卡",
    "finance.bank_account": "银行账户",
    "finance.payment": "支付与转账",
    "finance.other": "其他金融服务",
    "other": "其他",
})


def is_sector(code: str) -> bool:
    return code in SECTORS


def is_category(code: str) -> bool:
    return code in CATEGORIES
