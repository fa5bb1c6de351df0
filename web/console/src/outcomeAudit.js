// Words for the outcome audit: each signal's rule with the thresholds in force in the region, and a signal's detail
// as label-value pairs (money in yuan, shares in percent, instants in Beijing time).
import { i18n } from './i18n.js'
import { dateTime, percent, yuan } from './format.js'

export const SIGNALS = ['low_settlement', 'fulfilment_overdue', 'fulfilment_disputed', 'refiled_after_close',
  'withdrawn_after_contact', 'enterprise_outlier', 'mediator_outlier']
export const OUTCOMES = ['confirmed', 'consumer_called_back', 'referred_for_enforcement',
  'agreement_reopened_with_consent']

/** The rule of a signal in words, its parameters taken from a region's effective thresholds (or the defaults). */
export function signalRule(kind, effective) {
  const values = effective ?? {}
  return i18n.global.t(`signalRule.${kind}`, {
    share: percent(values.low_settlement_share ?? 0.1),
    days: { fulfilment_overdue: values.fulfilment_overdue_days ?? 14, refiled_after_close: values.refile_days ?? 30,
      withdrawn_after_contact: values.withdrawal_days ?? 7 }[kind] ?? '',
    window: values.outlier_window_days ?? 90, z: values.outlier_z ?? 3, min: values.outlier_min_cases ?? 20,
  })
}

// Ids the screen links elsewhere or that mean nothing to a reader.
const HIDDEN = new Set(['agreement_id', 'proof_id', 'earlier_case_id', 'earlier_complaint_id', 'merchant_id'])

function shown(key, value) {
  if (value === null || value === undefined || value === '') return '—'
  if (key.endsWith('_fen')) return yuan(value)
  // A share as small as 0.17 % must not read 0.2 %: two decimals.
  if (key === 'share' || key === 'threshold_share') {
    return new Intl.NumberFormat(i18n.global.locale.value, { style: 'percent', maximumFractionDigits: 2 }).format(value)
  }
  if (key.endsWith('_at')) return dateTime(value)
  if (key.endsWith('_type')) return i18n.global.te(`request.${value}`) ? i18n.global.t(`request.${value}`) : value
  if (key === 'fulfilment_status') return i18n.global.t(`fulfilmentStatus.${value}`)
  if (key === 'termination_rate' && typeof value === 'object') return rate(value)
  if (key === 'rates' && typeof value === 'object') {
    return Object.entries(value).map(([kind, comparison]) => `${i18n.global.t(`signal.${kind}`)}: ${rate(comparison)}`)
      .join('; ')
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

// A subject's rate against its peers' (outcomes/rules.py `Comparison.as_detail`).
function rate(c) {
  return `${percent(c.rate)} (${c.count}/${c.cases}) · ${percent(c.peer_rate)} (${c.peer_count}/${c.peer_cases}) · z ${c.z}`
}

/** A signal's detail as [{key, label, value}] in a stable order. */
export function signalDetail(detail) {
  return Object.entries(detail ?? {}).filter(([key]) => !HIDDEN.has(key)).map(([key, value]) => ({
    key,
    label: i18n.global.te(`signalDetail.${key}`) ? i18n.global.t(`signalDetail.${key}`) : key,
    value: shown(key, value),
  }))
}
