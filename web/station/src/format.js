// Dates and money as the desk shows them (dates in Asia/Shanghai, money in yuan; the API counts fen).
import { i18n } from './i18n.js'

const ZONE = 'Asia/Shanghai'

export function dateTime(value) {
  if (!value) return '—'
  return new Intl.DateTimeFormat(i18n.global.locale.value, {
    timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).format(new Date(value))
}

export function yuan(fen) {
  if (fen === null || fen === undefined) return '—'
  return new Intl.NumberFormat(i18n.global.locale.value, { style: 'currency', currency: 'CNY' }).format(fen / 100)
}

/** Yuan as typed (a number with at most two decimals) to whole fen. */
export function toFen(amount) {
  return Math.round(Number(amount) * 100)
}

/** Today's date in Shanghai as YYYY-MM-DD. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(new Date())
}
