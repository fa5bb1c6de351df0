// Pieces every view uses: error wording, status badges, deadlines, field errors from problem+json.

import { ApiError } from "../api.js";
import { h, notice, replace, setFieldError } from "../dom.js";
import { fieldMessage, label, lang, t } from "../i18n.js";
import { money, todayLocal } from "../format.js";

/**
 * What to tell a person about a failed request, in their language: the problem type (or OAuth error) worded here;
 * else the title, which the services localise. The detail is English prose for developers, shown in English only.
 */
export function problemText(error) {
  if (error instanceof ApiError) {
    if (error.status === 0) return t("networkError");
    const problem = error.problem;
    const slug = String(problem?.type ?? "").replace(/^\/problems\//, "");
    const known = label("problem", slug, {}, null);
    if (known) return known;
    if (error.status === 404) return t("notFound");
    if (problem?.title) {
      return lang() === "en" && problem.detail ? `${problem.title}: ${problem.detail}` : problem.title;
    }
    if (error.transient) return label("problem", "upstream-unavailable");
  }
  return t("genericError");
}

const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;
const retryAttempts = new WeakMap();

/**
 * An error box with a retry button. Given the page's `signal`, a transient failure (network, 502-504) is retried by
 * itself with a growing pause (2 s, 4 s, 8 s … 30 s), and the box says when; leaving the page stops it.
 */
export function errorNotice(error, retry, signal) {
  const again = () => {
    clearTimeout(timer);
    replace(button, t("retryingNow"));
    button.disabled = true;
    retry();
  };
  let timer = null;
  const button = retry ? h("button", { type: "button", class: "secondary", onclick: again }, t("retry")) : null;
  let countdown = null;
  if (retry && signal && error instanceof ApiError && error.transient && !signal.aborted) {
    const attempt = retryAttempts.get(retry) ?? 0;
    retryAttempts.set(retry, attempt + 1);
    const delay = Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS);
    countdown = h("p", { class: "meta" }, t("autoRetry", { s: Math.round(delay / 1000) }));
    timer = setTimeout(again, delay);
    signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }
  return notice("error", h("p", {}, problemText(error)), countdown, button);
}

const TONES = {
  with_merchant: "active", pending_acceptance: "waiting", accepted: "active", submitted: "waiting",
  closed_settled: "good", settled: "good", withdrawn: "neutral", closed_terminated: "neutral",
  closed_refused: "bad", terminated: "neutral", failed: "bad", negotiating: "active", mediating: "active",
  suspended: "waiting", received: "waiting", verifying: "active", case_opened: "good", not_opened: "neutral",
  open: "active", accepted_offer: "good", rejected: "bad", breached: "bad", met: "good", running: "active",
  extended: "waiting", paused: "waiting", ended: "neutral", confirmed: "good", disputed: "bad", recorded: "active",
  pending: "waiting",
};

/** A coloured status label; the text carries the meaning, the colour only repeats it. */
export function badge(group, code, tone = TONES[code] ?? "neutral") {
  return h("span", { class: `badge ${tone}` }, label(group, code));
}

/** Deadlines as sentences ("商家需在 2026-12-11 前处理") with their state and, while running, the working days left. */
export function deadlineList(deadlines) {
  if (!Array.isArray(deadlines) || deadlines.length === 0) return null;
  return h("section", { class: "card" },
    h("h3", {}, t("deadlines")),
    h("ul", { class: "deadlines" }, deadlines.map((deadline) => h("li", {},
      h("span", {}, label("deadline", deadline.kind, { date: deadline.due_date })),
      " ",
      badge("deadlineState", deadline.state),
      countdown(deadline)))));
}

function countdown(deadline) {
  const left = deadline.working_days_left;
  if (left === null || left === undefined) return null;
  const text = left > 0 ? t("daysLeft", { n: left }) : deadline.due_date === todayLocal() ? t("dueToday") : t("overdue");
  return h("strong", { class: `countdown${left <= 1 ? " urgent" : ""}` }, text);
}

/** One timeline row's words in the reader's language (rows older than codes keep their recorded note). */
export function timelineText(entry) {
  const params = entry.params ?? {};
  if (!entry.code || label("timeline", entry.code, {}, null) === null) return entry.note ?? "";
  return label("timeline", entry.code, {
    ...params,
    amount: params.amount_fen != null ? money(params.amount_fen) : "",
    case_status: label("caseStarted", params.case_status),
    reason: label("failure", params.reason),
    stage: label("stage", params.stage),
  });
}

/**
 * Put each problem+json field error next to its field: the path ("body.respondent.name") is looked up among the
 * form's data-field wrappers, walking up to the nearest one that exists. Returns the errors that found no field.
 */
export function showFieldErrors(form, errors) {
  for (const wrapper of form.querySelectorAll(".field")) setFieldError(wrapper, null);
  const unplaced = [];
  const messages = new Map();
  for (const error of errors) {
    const path = String(error.field ?? "").replace(/^body\.?/, "").split(".");
    let wrapper = null;
    while (path.length && !wrapper) {
      wrapper = form.querySelector(`[data-field="${CSS.escape(path.join("."))}"]`);
      path.pop();
    }
    if (!wrapper || wrapper.hidden || wrapper.closest("[hidden]")) {
      unplaced.push(error);
      continue;
    }
    const text = fieldMessage(error);
    messages.set(wrapper, messages.has(wrapper) ? `${messages.get(wrapper)}；${text}` : text);
  }
  for (const [wrapper, text] of messages) {
    setFieldError(wrapper, text);
    // Correcting a field clears its error at once, not at the next submit.
    const clear = () => setFieldError(wrapper, null);
    wrapper.addEventListener("input", clear, { once: true });
    wrapper.addEventListener("change", clear, { once: true });
  }
  const first = form.querySelector("[aria-invalid='true']");
  first?.focus();
  return unplaced;
}
