// The console's formatters (web/shared/format.js), in the console's language.
import { createFormat } from '@shared/format.js'
import { i18n } from './i18n.js'

export { bytes, currentDeadline, today } from '@shared/format.js'
export const { dateTime, yuan, percent, countdown, clockText } = createFormat(i18n)
