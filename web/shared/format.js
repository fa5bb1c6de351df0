// Dates, money and working-day countdowns as the screens show them (dates in Asia/Shanghai, money in yuan), in the
// language of the screen's i18n (its messages name `countdown.*` and `deadlineState.*`).
const ZONE = 'Asia/Shanghai'
const OPEN = new Set(['running', 'extended', 'paused', 'breached'])

/** Today's date in Shanghai as YYYY-MM-DD. */
export function today() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(new Date())
}

export function bytes(size) {
  return size < 1024 * 1024 ? `${Math.max(1, Math.round(size / 1024))} KB` : `${(size / 1024 / 1024).toFixed(1)} MB`
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

/** The clock a list shows for a case: its open one, else its latest. */
export function currentDeadline(deadlines) {
  if (!deadlines?.length) return null
  return deadlines.find((d) => OPEN.has(d.state)) ?? deadlines[deadlines.length - 1]
}

/** The formatters that speak: bound to one screen's i18n. */
export function createFormat(i18n) {
  const t = (...args) => i18n.global.t(...args)
  const locale = () => i18n.global.locale.value

  function dateTime(value) {
    if (!value) return '—'
    return new Intl.DateTimeFormat(locale(), {
      timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    }).format(new Date(value))
  }

  function yuan(fen) {
    if (fen === null || fen === undefined) return '—'
    return new Intl.NumberFormat(locale(), { style: 'currency', currency: 'CNY' }).format(fen / 100)
  }

  function percent(rate) {
    return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(rate)
  }

  /** The countdown of a clock: {text, overdue}. Overdue when the server says breached or the due date has passed. */
  function countdown(deadline) {
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

  /** A clock as a table shows it: its countdown, said to be extended or paused when it is. */
  function clockText(deadline) {
    const shown = countdown(deadline)
    const state = deadline.state === 'extended' || deadline.state === 'paused'
      ? `${t(`deadlineState.${deadline.state}`)} · ` : ''
    return { text: state + shown.text, overdue: shown.overdue }
  }

  return { dateTime, yuan, percent, countdown, clockText }
}
