// What the ODR-enterprise screens share: status colours, flag reasons in the reader's language, state errors in
// words.
import { i18n } from '../../i18n.js'

const t = (...args) => i18n.global.t(...args)

/** Element Plus tag type per enrollment or application status. */
export const STATUS_TAG = { pending: 'warning', approved: 'success', rejected: 'info', suspended: 'danger',
  revoked: 'info' }

// The scorecard service states a missed threshold as an English sentence ("settlement rate 40% < 50%"); each maps
// to its metric, so the screen says it in the chosen language and can mark the metric's cell.
const REASONS = [
  { metric: 'onTime', pattern: /^answered within the deadline (\S+) < (\S+)$/ },
  { metric: 'settlement', pattern: /^settlement rate (\S+) < (\S+)$/ },
  { metric: 'rating', pattern: /^average rating (\S+) < (\S+)$/ },
]

/** A flag's reason as {metric, text}; a reason of an unknown form keeps its own words and names no metric. */
export function flagReason(reason) {
  for (const { metric, pattern } of REASONS) {
    const match = reason.match(pattern)
    if (match) return { metric, text: t(`odr.scorecards.reasons.${metric}`, { value: match[1], threshold: match[2] }) }
  }
  return { metric: null, text: reason }
}

/** The message of a failed act on an enterprise: a state conflict (409) said in words, else the problem's title. */
export function actionError(error, action) {
  if (error.status !== 409) return error.message
  const current = error.problem?.current_status
  return current
    ? t('odr.common.conflict', { status: t(`odr.status.${current}`), action: t(`odr.enterprises.actions.${action}`) })
    : t('odr.common.conflictPlain')
}

/** A phone as lists show it: the first three and last four digits (13997001234 -> 139****1234). */
export function maskedPhone(phone) {
  return phone.length > 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : phone
}
