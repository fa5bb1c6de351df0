// One complaint: status, deadlines, timeline, live updates; withdraw (with a confirm step), rating after closure, and
// erasure of its personal data once it is closed and past its retention period (PIPL Art. 47).

import { api } from "../api.js";
import { busyButton, field, h, notice, replace, uid } from "../dom.js";
import { categoryName, label, lang, sectorName, t } from "../i18n.js";
import { dateOnly, dateTime, money } from "../format.js";
import { follow } from "../sse.js";
import { badge, deadlineList, errorNotice, problemText, showFieldErrors, timelineText } from "./common.js";
import { fileList } from "./files.js";

const WITHDRAWABLE = new Set(["submitted", "with_merchant", "pending_acceptance", "accepted"]);
const RATEABLE = new Set(["closed_settled", "closed_terminated", "closed_refused"]);
const FINAL = new Set([...RATEABLE, "withdrawn", "case_opened", "not_opened"]);

export function renderDetail({ root, signal, message }, id) {
  const path = `/v1/consumer/complaints/${encodeURIComponent(id)}`;
  const liveState = h("p", { class: "live", role: "status" });
  const info = h("div", { class: "stack" }, h("p", { class: "loading" }, t("loading")));
  const actions = h("div", { class: "stack" });
  const access = h("div", { class: "stack" });
  const flash = h("div", { class: "status-slot" }, message);
  let actionsFor = null;

  replace(root,
    h("p", {}, h("a", { href: "#/complaints", class: "back" }, `← ${t("back")}`)),
    flash, liveState, info, actions, access);

  function render(detail) {
    replace(info, ...summaryCards(detail, path, signal));
    // Actions keep what the person is typing unless something they depend on changed.
    const actionKey = `${detail.status}|${detail.rating ? 1 : 0}|${detail.personal_data_erased_at ? 1 : 0}`;
    if (actionKey !== actionsFor) {
      actionsFor = actionKey;
      replace(actions, ...actionCards(detail, path, render, flash));
    }
  }

  async function loadAccessLog() {
    try {
      replace(access, accessCard((await api.get(`${path}/access-log`, { signal })).items));
    } catch (error) {
      if (error.name !== "AbortError") replace(access, errorNotice(error, loadAccessLog, signal));
    }
  }

  async function load() {
    try {
      render(await api.get(path, { signal }));
      loadAccessLog();
      follow(`${path}/stream`, {
        signal,
        onEvent: (name, data) => {
          if (name !== "complaint") return;
          try {
            render(JSON.parse(data));
          } catch {
            // A malformed event is skipped; the next one carries the full detail again.
          }
        },
        onState: (connected) => {
          liveState.textContent = connected ? `● ${t("live")}` : t("liveLost");
          liveState.classList.toggle("lost", !connected);
        },
      });
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(info, errorNotice(error, load, signal));
    }
  }
  load();
}

function summaryCards(detail, path, signal) {
  const request = detail.request ?? {};
  const cards = [
    h("section", { class: "card" },
      h("div", { class: "row" },
        h("h2", { class: "name" }, detail.respondent?.name ?? ""),
        badge("status", detail.status)),
      h("dl", { class: "facts" },
        h("dt", {}, t("caseNo")), h("dd", { class: "mono" }, detail.case_no),
        // A report asks nothing for the reporter: its request is a formality of the API, not worth a line.
        detail.kind === "report" ? null : [h("dt", {}, t("request")),
          h("dd", {}, [label("request", request.type), request.amount_fen != null ? ` ${money(request.amount_fen)}` : ""]
            .join(""))],
        detail.recovered_fen > 0 ? [h("dt", {}, t("recovered")), h("dd", {}, money(detail.recovered_fen))] : null),
      detail.green_channel ? h("p", { class: "tag" }, t("greenChannel")) : null),
  ];
  if (detail.mediation_case_id) {
    cards.push(h("a", { class: "card link-card cta", href: `#/cases/${detail.mediation_case_id}` },
      h("strong", {}, `${t("negotiate")} →`),
      h("span", { class: "hint" }, t("negotiateHint"))));
  }
  cards.push(deadlineList(detail.deadlines));
  cards.push(filedCard(detail, path, signal));
  if (detail.refusal) {
    cards.push(h("section", { class: "card" },
      h("h3", {}, t("refusal")),
      h("p", {}, detail.refusal.note),
      h("h3", {}, t("otherRoutes")),
      // The statutory routes (Consumer Rights Protection Law Art. 39), worded here in the reader's language.
      h("p", {}, t("otherRoutesText"))));
  }
  if (detail.report_decision) {
    cards.push(h("section", { class: "card" },
      h("h3", {}, t("reportDecision")),
      h("p", {}, detail.report_decision.reason)));
  }
  const timeline = [...(detail.timeline ?? [])].reverse();
  if (timeline.length) {
    cards.push(h("section", { class: "card" },
      h("h3", {}, t("timeline")),
      h("ol", { class: "timeline" }, timeline.map((entry) => h("li", {},
        h("div", { class: "row" }, badge("status", entry.status),
          h("time", { datetime: entry.at }, dateTime(entry.at))),
        h("p", {}, timelineText(entry)),
        entry.code && entry.params?.text ? h("p", { class: "quote" }, entry.params.text) : null,
        h("p", { class: "meta" }, label("role", entry.actor_role)))))));
  }
  return cards.filter(Boolean);
}

/** What the consumer filed: the facts as written, the purchase, the codes and the evidence. */
function filedCard(detail, path, signal) {
  const purchase = detail.purchase;
  const row = (term, value) => (value ? [h("dt", {}, term), h("dd", {}, value)] : null);
  return h("section", { class: "card" },
    h("h3", {}, detail.kind === "report" ? t("reportFiledTitle") : t("filedTitle")),
    h("p", { class: "facts-text" }, detail.facts),
    h("dl", { class: "facts" },
      row(t("sector"), sectorName(detail.sector)),
      row(t("category"), detail.category ? categoryName(detail.category) : null),
      row(t("purchaseDate"), purchase?.date),
      row(t("purchaseAmount"), purchase?.amount_fen != null ? money(purchase.amount_fen) : null),
      row(t("orderNo"), purchase?.order_no)),
    h("h4", {}, t("evidence")),
    detail.evidence?.length
      ? fileList(detail.evidence.map((item) => ({ name: item.filename, type: item.media_type,
        path: `${path}/evidence/${item.id}` })), signal)
      : h("p", { class: "meta" }, t("evidenceNone")));
}

function actionCards(detail, path, render, flash) {
  const cards = [];
  if (WITHDRAWABLE.has(detail.status)) cards.push(withdrawCard(path, render, flash));
  if (detail.rating) {
    cards.push(h("section", { class: "card" },
      h("p", {}, h("span", { class: "stars-shown", "aria-hidden": "true" },
        `${"★".repeat(detail.rating.score)}${"☆".repeat(5 - detail.rating.score)} `),
      t("yourRating", { n: detail.rating.score })),
      detail.rating.text ? h("p", { class: "meta" }, detail.rating.text) : null));
  } else if (RATEABLE.has(detail.status) && !detail.personal_data_erased_at) {
    cards.push(ratingCard(path, render, flash));
  }
  cards.push(erasureCard(detail, path, render, flash));
  return cards;
}

/** Erase this case's personal data: refused while it is open (said at once), confirmed before it is asked for, and
 * the service's reason shown when it refuses (still within the retention period, from which day). */
function erasureCard(detail, path, render, flash) {
  const card = (...content) => h("section", { class: "card stack erasure", "aria-labelledby": "erase-title" },
    h("h3", { id: "erase-title" }, t("eraseTitle")), ...content);
  if (detail.personal_data_erased_at) {
    return card(h("p", {}, t("erasedAt", { at: dateTime(detail.personal_data_erased_at) })));
  }
  if (!FINAL.has(detail.status)) return card(h("p", { class: "meta" }, t("eraseIntro")), h("p", {}, t("eraseRefusedOpen")));
  const slot = h("div", { class: "stack" });
  const start = h("button", { type: "button", class: "danger-outline wide" }, t("eraseStart"));
  start.addEventListener("click", () => {
    const status = h("div");
    const yes = busyButton({ class: "danger" }, t("eraseYes"), t("sending"), async () => {
      try {
        await api.post(`${path}/personal-data/erasure`, {});
        render(await api.get(path));
        announce(flash, t("erased"));
      } catch (error) {
        replace(status, notice("error", erasureRefusal(error)));
      }
    });
    const no = h("button", { type: "button", class: "secondary", onclick: () => replace(slot, start) }, t("cancel"));
    replace(slot, h("div", { class: "confirm", role: "group", "aria-label": t("eraseTitle") },
      h("p", {}, t("eraseConfirm")), status, h("div", { class: "buttons" }, yes, no)));
    yes.focus();
  });
  replace(slot, start);
  return card(h("p", { class: "meta" }, t("eraseIntro")), slot);
}

function erasureRefusal(error) {
  const problem = error.problem ?? {};
  if (error.status === 409 && problem.reason === "in_retention") {
    return t("eraseRefusedRetention", { date: dateOnly(problem.erasable_from) });
  }
  if (error.status === 409 && problem.reason === "case_open") return t("eraseRefusedOpen");
  if (error.status === 409 && problem.reason === "already_erased") return t("eraseRefusedDone");
  return problemText(error);
}

function withdrawCard(path, render, flash) {
  const slot = h("div", { class: "stack" });
  const start = h("button", { type: "button", class: "danger-outline wide" }, t("withdraw"));
  start.addEventListener("click", () => {
    const status = h("div");
    const yes = busyButton({ class: "danger" }, t("withdrawYes"), t("sending"), async () => {
      try {
        render(await api.post(`${path}/withdraw`, {}));
        announce(flash, t("withdrawn"));
      } catch (error) {
        replace(status, errorNotice(error));
      }
    });
    const no = h("button", { type: "button", class: "secondary", onclick: () => replace(slot, start) }, t("cancel"));
    replace(slot, h("div", { class: "confirm", role: "group", "aria-label": t("withdraw") },
      h("p", {}, t("withdrawConfirm")), status, h("div", { class: "buttons" }, yes, no)));
    yes.focus();
  });
  replace(slot, start);
  return h("section", { class: "card" }, slot);
}

function ratingCard(path, render, flash) {
  const group = uid("stars");
  const stars = [1, 2, 3, 4, 5].map((n) => {
    const id = `${group}-${n}`;
    return h("span", { class: "star" },
      h("input", { type: "radio", name: group, id, value: String(n), class: "visually-hidden" }),
      h("label", { for: id, title: t("star", { n }) }, h("span", { "aria-hidden": "true" }, "★"),
        h("span", { class: "visually-hidden" }, t("star", { n }))));
  });
  const scoreField = h("fieldset", { class: "field stars", dataset: { field: "score" } },
    h("legend", {}, t("rateScore")), h("div", { class: "star-row" }, stars),
    h("p", { class: "field-error", role: "alert", hidden: true }));
  const text = h("textarea", { name: "text", rows: "3", maxlength: "1000" });
  const status = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, t("rateSubmit"));
  const form = h("form", { class: "card stack", novalidate: true },
    h("h3", {}, t("rateTitle")), scoreField,
    field({ label: t("rateText"), name: "text", control: text, optionalText: t("optional") }),
    status, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = form.querySelector(`input[name="${group}"]:checked`);
    if (!chosen) {
      showFieldErrors(form, [{ field: "score", code: "missing" }]);
      return;
    }
    submit.disabled = true;
    try {
      const body = { score: Number(chosen.value) };
      if (text.value.trim()) body.text = text.value.trim();
      render(await api.post(`${path}/rating`, body));
      announce(flash, t("rateThanks"));
    } catch (error) {
      if (error.fieldErrors?.length) showFieldErrors(form, error.fieldErrors);
      replace(status, notice("error", problemText(error)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** Who among staff saw my personal data in full: role and bureau, never the person (PIPL Art. 45). */
function accessCard(items) {
  return h("section", { class: "card", "aria-labelledby": "access-title" },
    h("h3", { id: "access-title" }, t("accessTitle")),
    h("p", { class: "meta" }, t("accessIntro")),
    items.length
      ? h("ol", { class: "timeline access-log" }, [...items].reverse().map((entry) => h("li", {},
        h("div", { class: "row" },
          h("strong", {}, t("accessWho", { role: label("accessRole", entry.role),
            bureau: t("accessBureau", { region: entry.region_name ?? entry.region_code ?? "" }) })),
          h("time", { datetime: entry.at }, dateTime(entry.at))),
        h("p", {}, t("accessWhat", { fields: entry.fields.map((f) => label("accessField", f)).join(lang() === "en" ? ", " : "、") })),
        h("p", { class: "meta" }, t("accessWhy", { purpose: label("accessPurpose", entry.purpose) })))))
      : h("p", {}, t("accessEmpty")));
}

/** Show a success message where the page starts, and bring it into view. */
function announce(flash, text) {
  replace(flash, notice("success", text));
  window.scrollTo({ top: 0 });
}
