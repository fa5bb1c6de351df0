// Sector names in the console's current language.
import { nameIn, SECTORS } from '@shared/catalog.js'
import { i18n } from './i18n.js'

export function sectorName(code) {
  return nameIn(SECTORS, code, i18n.global.locale.value)
}

// The fixed list of issue types (complaints/complaint/enums.py IssueType), in both languages.
const ISSUE_TYPES = {
  quality: ['质量问题', 'Quality'],
  safety: ['安全问题', 'Safety'],
  price: ['价格问题', 'Price'],
  metrology: ['计量问题', 'Metrology'],
  counterfeit: ['假冒伪劣', 'Counterfeit'],
  contract: ['合同问题', 'Contract'],
  false_advertising: ['虚假宣传', 'False advertising'],
  after_sales: ['售后服务', 'After-sales service'],
  personal_information: ['个人信息保护', 'Personal information'],
  personal_rights: ['人格权益', 'Personal rights'],
  other: ['其他', 'Other'],
}

export const ISSUE_TYPE_CODES = Object.keys(ISSUE_TYPES)
export const SECTOR_CODES = Object.keys(SECTORS)

export function issueTypeName(code) {
  const names = ISSUE_TYPES[code]
  if (!names) return code ?? '—'
  return i18n.global.locale.value === 'en' ? names[1] : names[0]
}
