// Dates, money and working-day countdowns as the screens show them (dates in Asia/Shanghai, money in yuan).
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

export function percent(rate) {
  return new Intl.NumberFormat(i18n.global.locale.value, { style: 'percent', maximumFractionDigits: 1 }).format(rate)
}

export function bytes(size) {
  return size < 1024 * 1024 ? `${Math.max(1, Math.round(size / 1024))} KB` : `${(size / 1024 / 1024).toFixed(1)} MB`
}

/** Today's date in Shanghai as YYYY-MM-DD. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(new Date())
}

// Monday to Friday only: the public holidays and swapped weekends of the platform's calendar have no API yet, so
// a countdown across a holiday reads a little longer than the server's own due date implies.
function workingDaysBetween(from, to) {
  let count = 0
  const day = new Date(`${from}T00:00:00Z`)
  const end = new Date(`${to}T00:00:00Z`)
  while (day < end) {
    day.setUTCDate(day.getUTCDate() + 1)
    const weekday = day.getUTCDay()
    if (weekday !== 0 && weekday !== 6) count += 1
  }
  return count
}

/** The countdown of a clock: {text, overdue}. Overdue when the server says breached or the due date has passed. */
export function countdown(deadline) {
  const t = i18n.global.t
  if (!deadline) return { text: t('countdown.none'), overdue: false }
  if (deadline.state === 'met' || deadline.state === 'ended') {
    return { text: t(`deadlineState.${deadline.state}`), overdue: false }
  }
  const now = today()
  if (deadline.state === 'breached' || deadline.due_date < now) {
    return { text: t('countdown.overdue', { n: Math.max(1, workingDaysBetween(deadline.due_date, now)) }),
      overdue: true }
  }
  const left = workingDaysBetween(now, deadline.due_date)
  return { text: left === 0 ? t('countdown.today') : t('countdown.left', { n: left }), overdue: false }
}

const OPEN = new Set(['running', 'extended', 'paused', 'breached'])

/** The clock the queue shows for a case: its open one, else its latest. */
export function currentDeadline(deadlines) {
  if (!deadlines?.length) return null
  return deadlines.find((d) => OPEN.has(d.state)) ?? deadlines[deadlines.length - 1]
}

/** A clock as a table shows it: its countdown, said to be extended or paused when it is. */
export function clockText(deadline) {
  const shown = countdown(deadline)
  const state = deadline.state === 'extended' || deadline.state === 'paused'
    ? `${i18n.global.t(`deadlineState.${deadline.state}`)} · ` : ''
  return { text: state + shown.text, overdue: shown.overdue }
}
