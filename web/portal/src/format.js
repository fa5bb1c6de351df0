// The portal's formatters (web/shared/format.js), in the portal's language.
import { createFormat, today } from '@shared/format.js'
import { i18n } from './i18n.js'

export { bytes, currentDeadline, today } from '@shared/format.js'
export const { dateTime, yuan, countdown, clockText, percent } = createFormat(i18n)

/** A clock's countdown, counted by the server's own working-day calendar (holidays included) while it runs. */
export function dueText(deadline) {
  const left = deadline?.working_days_left
  if (deadline?.state === 'running' && left !== null && left !== undefined && deadline.due_date >= today()) {
    return { text: left === 0 ? i18n.global.t('countdown.today') : i18n.global.t('countdown.left', { n: left }),
      overdue: false }
  }
  return countdown(deadline)
}
