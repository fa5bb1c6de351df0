// The complaint service's code lists (complaints/catalog.py) with their names in both languages, shared by every
// built screen; an unknown code shows as itself.

export const SECTORS = {
  car_repair: ['汽车维修', 'Car repair'],
  catering_entertainment: ['餐饮娱乐', 'Catering and entertainment'],
  hotels: ['住宿酒店', 'Hotels'],
  home_renovation: ['家居装修', 'Home renovation'],
  toys: ['玩具', 'Toys'],
  school_supplies: ['文具学习用品', 'School supplies'],
  gas_appliances: ['燃气器具', 'Gas appliances'],
  e_bikes: ['电动自行车', 'E-bikes'],
  food: ['食品', 'Food'],
  online_shopping: ['网络购物', 'Online shopping'],
  retail: ['商场超市零售', 'Retail'],
  household_appliances: ['家用电器', 'Household appliances'],
  telecom: ['通信服务', 'Telecom'],
  education_training: ['教育培训', 'Education and training'],
  healthcare_beauty: ['医疗美容', 'Healthcare and beauty'],
  tourism: ['旅游服务', 'Tourism'],
  transport: ['交通运输', 'Transport'],
  property_services: ['物业服务', 'Property services'],
  finance: ['金融服务', 'Financial services'],
  other: ['其他', 'Other'],
}

export const CATEGORIES = {
  'car_repair.maintenance': ['汽车保养', 'Car maintenance'],
  'car_repair.accident_repair': ['事故车维修', 'Accident repair'],
  'car_repair.parts': ['汽车配件', 'Car parts'],
  'catering.restaurant_meal': ['餐饮服务', 'Restaurant meal'],
  'catering.prepaid_card': ['预付式消费卡', 'Prepaid card'],
  'entertainment.ktv': ['KTV 娱乐', 'KTV'],
  'hotels.room': ['客房服务', 'Hotel room'],
  'hotels.booking': ['预订与退订', 'Booking and cancellation'],
  'home_renovation.contract': ['装修工程', 'Renovation work'],
  'home_renovation.materials': ['建材', 'Building materials'],
  'home_renovation.furniture': ['家具', 'Furniture'],
  'toys.children': ['儿童玩具', "Children's toys"],
  'school_supplies.stationery': ['文具', 'Stationery'],
  'school_supplies.books': ['教辅图书', 'Study books'],
  'gas_appliances.water_heater': ['燃气热水器', 'Gas water heater'],
  'gas_appliances.stove': ['燃气灶具', 'Gas stove'],
  'gas_appliances.pipe_and_valve': ['燃气管件阀门', 'Gas pipes and valves'],
  'e_bikes.vehicle': ['电动自行车整车', 'E-bike'],
  'e_bikes.battery': ['电池与充电器', 'Battery and charger'],
  'food.local_specialty': ['地方特产（枸杞、牦牛肉等）', 'Local specialities (goji, yak meat…)'],
  'food.dairy': ['乳制品', 'Dairy'],
  'food.packaged': ['预包装食品', 'Packaged food'],
  'food.fresh': ['生鲜食品', 'Fresh food'],
  'food.health_supplement': ['保健食品', 'Health supplements'],
  'appliances.large': ['大家电', 'Large appliances'],
  'appliances.small': ['小家电', 'Small appliances'],
  'electronics.phone': ['手机', 'Mobile phones'],
  'electronics.computer': ['电脑及配件', 'Computers and accessories'],
  'clothing.apparel': ['服装鞋帽', 'Clothing and shoes'],
  'telecom.mobile_plan': ['移动通信套餐', 'Mobile plan'],
  'telecom.broadband': ['宽带', 'Broadband'],
  'education.course': ['培训课程', 'Training course'],
  'health.cosmetic_procedure': ['医疗美容项目', 'Cosmetic procedure'],
  'tourism.package_tour': ['旅游团', 'Package tour'],
  'transport.ticket': ['客运票务', 'Passenger tickets'],
  'property.management_fee': ['物业费', 'Property management fee'],
  'finance.credit_reporting': ['征信服务', 'Credit reporting'],
  'finance.debt_collection': ['债务催收', 'Debt collection'],
  'finance.mortgage': ['住房贷款', 'Mortgage'],
  'finance.consumer_loan': ['消费贷款', 'Consumer loan'],
  'finance.credit_card': ['信用卡', 'Credit card'],
  'finance.bank_account': ['银行账户', 'Bank account'],
  'finance.payment': ['支付与转账', 'Payments and transfers'],
  'finance.other': ['其他金融服务', 'Other financial services'],
  other: ['其他', 'Other'],
}

/** The name of `code` in `table` for `locale` ('en' or Chinese), or the code itself when unknown. */
export function nameIn(table, code, locale) {
  const names = table[code]
  if (!names) return code ?? '—'
  return locale === 'en' ? names[1] : names[0]
}

export function sectorName(code, locale) {
  return nameIn(SECTORS, code, locale)
}
