// Money in integer fen, dates in Asia/Shanghai: conversions without floating-point surprises.

const TIME_ZONE = "Asia/Shanghai";

/** "299.5" -> 29950; null for an empty string; NaN for anything that is not yuan with at most two decimals. */
export function yuanToFen(text) {
  const value = String(text ?? "").trim().replace(/[,，\s]/g, "").replace(/^[¥￥]/, "");
  if (value === "") return null;
  const match = /^(\d{1,10})(?:\.(\d{0,2}))?$/.exec(value);
  if (!match) return Number.NaN;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

/** 29950 -> "¥299.50". */
export function money(fen) {
  if (fen === null || fen === undefined) return "";
  const whole = Math.trunc(fen / 100);
  const cents = String(Math.abs(fen % 100)).padStart(2, "0");
  return `¥${whole.toLocaleString("en-US")}.${cents}`;
}

function parts(date, options) {
  const formatted = new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, hourCycle: "h23", ...options })
    .formatToParts(date);
  return Object.fromEntries(formatted.map((part) => [part.type, part.value]));
}

/** Today's local date (Asia/Shanghai) as YYYY-MM-DD. */
export function todayLocal() {
  const p = parts(new Date(), { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day}`;
}

/** An ISO timestamp as "YYYY-MM-DD HH:mm" in Asia/Shanghai. */
export function dateTime(iso) {
  if (!iso) return "";
  const p = parts(new Date(iso), {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** An ISO timestamp as "YYYY-MM-DD" in Asia/Shanghai. */
export function dateOnly(iso) {
  return dateTime(iso).slice(0, 10);
}
