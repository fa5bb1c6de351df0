// Pieces every view uses: error wording, status badges, deadlines, field errors from problem+json.

import { ApiError } from "../api.js";
import { h, notice, setFieldError } from "../dom.js";
import { fieldMessage, label, lang, t } from "../i18n.js";

/** What to tell a person about a failed request. */
export function problemText(error) {
  if (error instanceof ApiError) {
    if (error.status === 0) return t("networkError");
    if (error.status === 404) return t("notFound");
    const problem = error.problem;
    if (problem?.title) {
      if (!problem.detail) return problem.title;
      return lang() === "en" ? `${problem.title}: ${problem.detail}` : `${problem.title}：${problem.detail}`;
    }
  }
  return t("genericError");
}

export function errorNotice(error, retry) {
  return notice("error", h("p", {}, problemText(error)),
    retry ? h("button", { type: "button", class: "secondary", onclick: retry }, t("retry")) : null);
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

/** Deadlines as sentences ("商家需在 2026-12-11 前处理") with their state. */
export function deadlineList(deadlines) {
  if (!Array.isArray(deadlines) || deadlines.length === 0) return null;
  return h("section", { class: "card" },
    h("h3", {}, t("deadlines")),
    h("ul", { class: "deadlines" }, deadlines.map((deadline) => h("li", {},
      h("span", {}, label("deadline", deadline.kind, { date: deadline.due_date })),
      " ",
      badge("deadlineState", deadline.state)))));
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
  for (const [wrapper, text] of messages) setFieldError(wrapper, text);
  const first = form.querySelector("[aria-invalid='true']");
  first?.focus();
  return unplaced;
}
