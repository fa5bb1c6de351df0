// Names of the complaint service's sector codes (complaints/catalog.py), in both languages; an unknown code shows
// as itself.

const SECTORS = {
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

export function sectorName(code, locale) {
  const names = SECTORS[code]
  if (!names) return code ?? '—'
  return locale === 'en' ? names[1] : names[0]
}
