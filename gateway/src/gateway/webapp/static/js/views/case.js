// Negotiation and mediation of a complaint: offers (accept, reject, counter), messages, agreement and fulfilment.

import { api } from "../api.js";
import { busyButton, field, h, notice, replace } from "../dom.js";
import { fieldMessage, label, t } from "../i18n.js";
import { dateTime, money, todayLocal, yuanToFen } from "../format.js";
import { follow } from "../sse.js";
import { badge, deadlineList, errorNotice, problemText, showFieldErrors } from "./common.js";
import { fileList } from "./files.js";

const OPEN_FOR_OFFERS = new Set(["negotiating", "mediating"]);
const OFFER_TYPES = ["refund", "replacement", "repair", "compensation", "apology", "other"];
const RELOAD_DELAY_MS = 250;

export function renderCase({ root, signal, message }, id) {
  const path = `/v1/consumer/cases/${encodeURIComponent(id)}`;
  const back = h("p", {}, h("a", { href: "#/complaints", class: "back" }, `← ${t("back")}`));
  const flash = h("div", { class: "status-slot" }, message);
  const liveState = h("p", { class: "live", role: "status" });
  const sections = {
    head: h("div", { class: "stack" }, h("p", { class: "loading" }, t("loading"))),
    agreement: h("div", { class: "stack" }),
    offers: h("div", { class: "stack" }),
    messages: h("div", { class: "stack" }),
    attachments: h("div", { class: "stack" }),
  };
  const drawn = {};
  let latest = null;
  const compose = composeBox(path, () => reload());

  replace(root, back, h("h2", {}, t("caseTitle")), flash, liveState,
    sections.head, sections.agreement, sections.offers, sections.messages, sections.attachments);

  // A section is redrawn only when its data changed, so an open form or a half-typed answer survives live updates.
  function draw(name, data, build) {
    const signature = JSON.stringify(data);
    if (drawn[name] === signature) return;
    drawn[name] = signature;
    replace(sections[name], ...[build()].flat().filter(Boolean));
  }

  function render(detail) {
    latest = detail;
    back.firstChild.href = `#/complaints/${detail.complaint_id}`;
    draw("head", [detail.status, detail.stage, detail.deadlines, detail.case_no], () => headCards(detail));
    draw("agreement", [detail.agreement, detail.fulfilment_proofs],
      () => agreementCard(detail, path, reload));
    draw("offers", [detail.status, detail.stage, detail.offers], () => offersCard(detail, path, reload));
    draw("messages", [detail.messages], () => messagesCard(detail, compose));
    draw("attachments", [detail.attachments], () => attachmentsCard(detail, path, signal));
    markRead(path, detail);
  }

  // Reloads asked for in a burst (live events, an action's own answer) become one request; everyone who asked is
  // answered when it is done, so a button waiting on its reload is released even if a live event came after it.
  let pending = null;
  let waiting = [];
  function reload() {
    clearTimeout(pending);
    return new Promise((resolve) => {
      waiting.push(resolve);
      pending = setTimeout(async () => {
        const answered = waiting;
        waiting = [];
        try {
          render(await api.get(path, { signal }));
        } catch (error) {
          if (error.name !== "AbortError") {
            replace(flash, errorNotice(error, () => {
              replace(flash);
              reload();
            }, signal));
          }
        }
        for (const done of answered) done();
      }, RELOAD_DELAY_MS);
    });
  }

  async function load() {
    try {
      render(await api.get(path, { signal }));
      follow(`${path}/stream`, {
        signal,
        onEvent: (name) => {
          if (name !== "ready") reload();
        },
        onState: (connected) => {
          liveState.textContent = connected ? `● ${t("live")}` : t("liveLost");
          liveState.classList.toggle("lost", !connected);
          // Whatever happened while disconnected is fetched once the stream is back.
          if (connected && latest) reload();
        },
      });
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(sections.head, errorNotice(error, load, signal));
    }
  }
  load();
}

function headCards(detail) {
  const stage = detail.stage === "mediation" ? t("stageMediation") : t("stageNegotiation");
  return [
    h("section", { class: "card" },
      h("div", { class: "row" }, h("strong", { class: "mono" }, detail.case_no), badge("status", detail.status)),
      h("p", { class: "meta" }, `${t("caseStage")}：${stage}`)),
    deadlineList(detail.deadlines),
  ];
}

function offerTerms(offer) {
  return [
    h("div", { class: "row" },
      h("strong", {}, [label("offer", offer.type), offer.amount_fen != null ? money(offer.amount_fen) : ""]
        .filter(Boolean).join(" ")),
      badge("offerStatus", offer.status)),
    h("p", { class: "meta" }, [t("madeBy", { who: label("role", offer.made_by) }), dateTime(offer.made_at),
      offer.fulfil_by ? t("fulfilBy", { date: offer.fulfil_by }) : ""].filter(Boolean).join(" · ")),
    offer.note ? h("p", {}, offer.note) : null,
  ];
}

function offersCard(detail, path, reload) {
  const offers = [...(detail.offers ?? [])].reverse();
  const canAnswer = OPEN_FOR_OFFERS.has(detail.status);
  return h("section", { class: "card" },
    h("h3", {}, t("offers")),
    offers.length === 0 ? h("p", { class: "meta" }, t("noOffers")) : null,
    h("ul", { class: "offers" }, offers.map((offer) => h("li", { class: offer.status === "open" ? "open" : "" },
      ...offerTerms(offer),
      canAnswer && offer.status === "open" && offer.made_by !== "consumer"
        ? offerActions(detail, offer, path, reload) : null))));
}

function offerActions(detail, offer, path, reload) {
  const offerPath = `${path}/offers/${offer.id}`;
  const panel = h("div", { class: "stack" });
  const status = h("div");
  const buttons = h("div", { class: "buttons" },
    h("button", { type: "button", class: "primary", onclick: () => showAccept() }, t("accept")),
    h("button", { type: "button", class: "secondary", onclick: () => showReject() }, t("reject")),
    h("button", { type: "button", class: "secondary", onclick: () => showCounter() }, t("counter")));
  const cancel = () => h("button", { type: "button", class: "ghost", onclick: () => replace(panel) }, t("cancel"));

  function showAccept() {
    replace(status);
    const yes = busyButton({ class: "primary" }, t("acceptYes"), t("sending"), async () => {
      try {
        await api.post(`${offerPath}/accept`, {});
        await reload();
      } catch (error) {
        replace(status, errorNotice(error));
      }
    });
    replace(panel, h("div", { class: "confirm" }, h("p", {}, t("acceptConfirm")),
      h("div", { class: "buttons" }, yes, cancel())));
    yes.focus();
  }

  function showReject() {
    replace(status);
    const note = h("textarea", { name: "note", rows: "2", maxlength: "2000" });
    const escalate = h("input", { type: "checkbox", id: `escalate-${offer.id}` });
    const form = h("form", { class: "stack confirm", novalidate: true },
      field({ label: t("rejectNote"), name: "note", control: note, optionalText: t("optional") }),
      detail.stage !== "mediation"
        ? h("div", { class: "check-row" }, escalate, h("label", { for: escalate.id }, t("escalate"))) : null,
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "danger" }, t("rejectYes")), cancel()));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {};
      if (note.value.trim()) body.note = note.value.trim();
      if (escalate.checked && detail.stage !== "mediation") body.escalate = true;
      send(form, `${offerPath}/reject`, body);
    });
    replace(panel, form);
    note.focus();
  }

  function showCounter() {
    replace(status);
    const type = h("select", { name: "type" }, OFFER_TYPES.map((code) => h("option", { value: code },
      label("offer", code))));
    type.value = offer.type;
    const amount = h("input", { type: "text", inputmode: "decimal", name: "amount",
      value: offer.amount_fen != null ? (offer.amount_fen / 100).toFixed(2) : "" });
    const fulfilBy = h("input", { type: "date", name: "fulfil_by", min: todayLocal() });
    const note = h("textarea", { name: "note", rows: "2", maxlength: "2000" });
    const form = h("form", { class: "stack confirm", novalidate: true },
      field({ label: t("counterType"), name: "counter.type", control: type, required: true }),
      field({ label: t("counterAmount"), name: "counter.amount_fen", control: amount, hint: t("amountHint"),
        optionalText: t("optional") }),
      field({ label: t("counterFulfilBy"), name: "counter.fulfil_by", control: fulfilBy, optionalText: t("optional") }),
      field({ label: t("counterNote"), name: "counter.note", control: note, optionalText: t("optional") }),
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, t("counterSend")), cancel()));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const fen = yuanToFen(amount.value);
      if (Number.isNaN(fen)) {
        showFieldErrors(form, [{ field: "counter.amount_fen", text: t("amountInvalid") }]);
        return;
      }
      const counter = { type: type.value };
      if (fen !== null) counter.amount_fen = fen;
      if (fulfilBy.value) counter.fulfil_by = fulfilBy.value;
      if (note.value.trim()) counter.note = note.value.trim();
      send(form, `${offerPath}/reject`, { counter });
    });
    replace(panel, form);
    type.focus();
  }

  async function send(form, target, body) {
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await api.post(target, body);
      await reload();
    } catch (error) {
      const unplaced = error.fieldErrors?.length ? showFieldErrors(form, error.fieldErrors) : [];
      replace(status, notice("error", h("p", {}, problemText(error)),
        unplaced.length ? h("ul", {}, unplaced.map((e) => h("li", {}, fieldMessage(e)))) : null));
    } finally {
      submit.disabled = false;
    }
  }

  return h("div", { class: "stack actions" }, buttons, panel, status);
}

function agreementCard(detail, path, reload) {
  const agreement = detail.agreement;
  if (!agreement) return null;
  const terms = agreement.terms ?? {};
  const proofs = [...(detail.fulfilment_proofs ?? [])].reverse();
  return h("section", { class: "card" },
    h("div", { class: "row" }, h("h3", {}, t("agreement")), badge("fulfilment", agreement.fulfilment_status)),
    h("p", {}, [terms.type ? label("offer", terms.type) : "", t("agreementAmount", { amount: money(agreement.amount_fen) }),
      agreement.fulfil_by ? t("fulfilBy", { date: agreement.fulfil_by }) : ""].filter(Boolean).join(" · ")),
    terms.note ? h("p", {}, String(terms.note)) : null,
    agreement.document_no ? h("p", { class: "meta" }, t("documentNo", { no: agreement.document_no })) : null,
    proofs.length ? h("h3", {}, t("proof")) : null,
    h("ul", { class: "offers" }, proofs.map((proof) => h("li", {},
      h("div", { class: "row" }, h("strong", {}, label("proof", proof.kind)),
        proof.answer ? badge("fulfilment", proof.answer) : null),
      h("p", { class: "meta mono" }, t("proofRef", { ref: proof.reference })),
      proof.note ? h("p", {}, proof.note) : null,
      h("p", { class: "meta" }, dateTime(proof.recorded_at)),
      !proof.answer && agreement.fulfilment_status === "recorded" ? proofActions(path, proof, reload) : null))));
}

function proofActions(path, proof, reload) {
  const note = h("textarea", { name: "note", rows: "2", maxlength: "2000" });
  const status = h("div");
  const answer = (verb) => async () => {
    try {
      const body = note.value.trim() ? { note: note.value.trim() } : {};
      await api.post(`${path}/fulfilment/${proof.id}/${verb}`, body);
      await reload();
    } catch (error) {
      replace(status, errorNotice(error));
    }
  };
  return h("div", { class: "stack actions" },
    field({ label: t("proofNote"), name: "note", control: note, optionalText: t("optional") }),
    h("div", { class: "buttons" },
      busyButton({ class: "primary" }, t("confirmFulfilled"), t("sending"), answer("confirm")),
      busyButton({ class: "danger-outline" }, t("disputeFulfilled"), t("sending"), answer("dispute"))),
    status);
}

function attachmentsCard(detail, path, signal) {
  const attachments = detail.attachments ?? [];
  if (!attachments.length) return null;
  return h("section", { class: "card" },
    h("h3", {}, t("attachments")),
    fileList(attachments.map((item) => ({ name: item.filename, type: item.content_type,
      path: `${path}/attachments/${item.id}`,
      meta: `${t("attachmentBy", { who: label("role", item.uploaded_by) })} · ${dateTime(item.uploaded_at)}` })), signal));
}

function messagesCard(detail, compose) {
  const messages = detail.messages ?? [];
  return h("section", { class: "card" },
    h("h3", {}, t("messages")),
    messages.length === 0 ? h("p", { class: "meta" }, t("noMessages")) : null,
    h("ol", { class: "messages" }, messages.map((message) => h("li",
      { class: message.author_role === "consumer" ? "mine" : "theirs" },
      h("p", { class: "meta" }, `${label("role", message.author_role)} · ${dateTime(message.posted_at)}`),
      h("p", { class: "bubble" }, message.text)))),
    compose);
}

function composeBox(path, reload) {
  const text = h("textarea", { name: "text", rows: "3", maxlength: "4000" });
  const status = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, t("send"));
  const form = h("form", { class: "stack", novalidate: true },
    field({ label: t("messageLabel"), name: "text", control: text }), status, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim() || submit.disabled) return;
    submit.disabled = true;
    submit.textContent = t("sending");
    try {
      await api.post(`${path}/messages`, { text: text.value.trim() });
      text.value = "";
      replace(status);
      await reload();
    } catch (error) {
      if (error.fieldErrors?.length) showFieldErrors(form, error.fieldErrors);
      replace(status, errorNotice(error));
    } finally {
      submit.disabled = false;
      submit.textContent = t("send");
    }
  });
  return form;
}

let lastMarked = null;

/** Tell the others how far the consumer has read (best effort; a failure changes nothing on screen). */
function markRead(path, detail) {
  const last = (detail.messages ?? []).at(-1);
  if (!last || last.author_role === "consumer" || lastMarked === last.id) return;
  lastMarked = last.id;
  api.post(`${path}/messages/read`, { up_to: last.id }).catch(() => {
    lastMarked = null;
  });
}
