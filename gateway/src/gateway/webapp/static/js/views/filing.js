// Filing a complaint: the canonical body of architecture.md §5, sent once (Idempotency-Key kept across retries).

import { api, fileComplaint, session } from "../api.js";
import { field, h, notice, replace, setFieldError } from "../dom.js";
import { label, SECTORS, sectorName, t } from "../i18n.js";
import { todayLocal, yuanToFen } from "../format.js";
import { problemText, showFieldErrors } from "./common.js";

const DRAFT_KEY = "odr.draft";
const REQUEST_TYPES = ["refund", "exchange", "repair", "compensation", "other"];
const FACTS_MAX = 5000;

export function renderFiling({ root, signal, navigate, message }) {
  const status = h("div", { class: "status-slot" }, message);
  const input = (attributes) => h("input", { type: "text", ...attributes });

  // about you
  const name = input({ name: "complainant.name", autocomplete: "name", maxlength: "100" });
  const phone = input({ name: "complainant.phone", type: "tel", inputmode: "numeric", autocomplete: "tel-national",
    maxlength: "11", value: session()?.phone ?? "" });
  const address = input({ name: "complainant.address", autocomplete: "street-address", maxlength: "500" });

  // the business
  const modeOdr = h("input", { type: "radio", name: "respondent.mode", value: "odr", id: "mode-odr", checked: true });
  const modeOther = h("input", { type: "radio", name: "respondent.mode", value: "other", id: "mode-other" });
  const enterprise = h("select", { name: "respondent.merchant_id" },
    h("option", { value: "" }, t("loading")));
  const green = h("input", { type: "checkbox", name: "green_channel", id: "green", checked: true,
    "aria-describedby": "green-hint" });
  const merchantName = input({ name: "respondent.name", maxlength: "200", autocomplete: "organization" });
  const merchantAddress = input({ name: "respondent.address", maxlength: "500" });
  const regionCode = input({ name: "respondent.region_code", inputmode: "numeric", maxlength: "6", value: "632801" });
  const uscc = input({ name: "respondent.uscc", maxlength: "18", autocapitalize: "characters" });

  const odrBlock = h("div", { class: "stack" },
    field({ label: t("odrEnterprise"), name: "respondent.merchant_id", control: enterprise, required: true }),
    h("div", { class: "check-card" },
      h("div", { class: "check-row" }, green, h("label", { for: "green" }, t("greenChannel"))),
      h("p", { class: "hint", id: "green-hint" }, t("greenChannelHint"))));
  const otherBlock = h("div", { class: "stack", hidden: true },
    field({ label: t("merchantName"), name: "respondent.name", control: merchantName, required: true }),
    field({ label: t("merchantAddress"), name: "respondent.address", control: merchantAddress,
      optionalText: t("optional") }),
    field({ label: t("regionCode"), name: "respondent.region_code", control: regionCode, hint: t("regionHint"),
      required: true }),
    field({ label: t("uscc"), name: "respondent.uscc", control: uscc, optionalText: t("optional") }));
  const modeField = h("fieldset", { class: "field choice", dataset: { field: "respondent" } },
    h("legend", {}, t("respondentMode")),
    h("div", { class: "check-row" }, modeOdr, h("label", { for: "mode-odr" }, t("pickOdr"))),
    h("div", { class: "check-row" }, modeOther, h("label", { for: "mode-other" }, t("enterOther"))),
    h("p", { class: "field-error", role: "alert", hidden: true }));
  const odrUnavailable = h("div", { hidden: true }, notice("info", t("odrNone")));

  const mode = () => (modeOther.checked ? "other" : "odr");
  const showMode = () => {
    odrBlock.hidden = mode() !== "odr";
    otherBlock.hidden = mode() !== "other";
  };
  modeOdr.addEventListener("change", showMode);
  modeOther.addEventListener("change", showMode);

  // what you want
  const requestType = h("select", { name: "request.type" },
    REQUEST_TYPES.map((code) => h("option", { value: code }, label("request", code))));
  const requestAmount = input({ name: "request.amount", inputmode: "decimal", autocomplete: "off" });

  // what happened
  const facts = h("textarea", { name: "facts", rows: "6", maxlength: String(FACTS_MAX) });
  const factsLeft = h("p", { class: "hint counter" }, t("charsLeft", { n: FACTS_MAX }));
  facts.addEventListener("input", () => { factsLeft.textContent = t("charsLeft", { n: FACTS_MAX - facts.value.length }); });
  const sector = h("select", { name: "sector" },
    h("option", { value: "" }, t("sectorChoose")),
    SECTORS.map(([code]) => h("option", { value: code }, sectorName(code))));
  const purchaseDate = h("input", { type: "date", name: "purchase.date", max: todayLocal() });
  const purchaseAmount = input({ name: "purchase.amount", inputmode: "decimal", autocomplete: "off" });
  const orderNo = input({ name: "purchase.order_no", maxlength: "100", autocapitalize: "characters" });
  const alsoReport = h("input", { type: "checkbox", name: "also_report", id: "also-report" });

  const submit = h("button", { type: "submit", class: "primary" }, t("submit"));
  const form = h("form", { class: "stack", novalidate: true },
    h("section", { class: "card stack" },
      h("h3", {}, t("sectionYou")),
      field({ label: t("name"), name: "complainant.name", control: name, required: true }),
      field({ label: t("phone"), name: "complainant.phone", control: phone, required: true }),
      field({ label: t("address"), name: "complainant.address", control: address, optionalText: t("optional") })),
    h("section", { class: "card stack" },
      h("h3", {}, t("sectionRespondent")),
      odrUnavailable,
      modeField,
      odrBlock,
      otherBlock),
    h("section", { class: "card stack" },
      h("h3", {}, t("sectionRequest")),
      field({ label: t("requestType"), name: "request.type", control: requestType, required: true }),
      field({ label: t("requestAmount"), name: "request.amount_fen", control: requestAmount, hint: t("amountHint"),
        optionalText: t("optional") })),
    h("section", { class: "card stack" },
      h("h3", {}, t("sectionFacts")),
      field({ label: t("facts"), name: "facts", control: facts, hint: t("factsHint"), required: true }),
      factsLeft,
      field({ label: t("sector"), name: "sector", control: sector, required: true }),
      field({ label: t("purchaseDate"), name: "purchase.date", control: purchaseDate, optionalText: t("optional") }),
      field({ label: t("purchaseAmount"), name: "purchase.amount_fen", control: purchaseAmount,
        optionalText: t("optional") }),
      field({ label: t("orderNo"), name: "purchase.order_no", control: orderNo, optionalText: t("optional") }),
      h("div", { class: "check-row" }, alsoReport, h("label", { for: "also-report" }, t("alsoReport")))),
    h("div", { class: "status-slot", id: "filing-status" }),
    submit);
  const formStatus = form.querySelector("#filing-status");

  enterprise.addEventListener("change", () => {
    const chosen = enterprise.selectedOptions[0];
    if (chosen?.dataset.sector && !sector.value) sector.value = chosen.dataset.sector;
  });
  form.addEventListener("input", () => saveDraft(form));

  function collect() {
    const errors = [];
    const text = (control) => control.value.trim() || undefined;
    const need = (control, path) => {
      if (!control.value.trim()) errors.push({ field: path, code: "missing" });
    };
    const amount = (control, path) => {
      const fen = yuanToFen(control.value);
      if (Number.isNaN(fen)) errors.push({ field: path, message: t("amountInvalid") });
      return fen ?? undefined;
    };
    need(name, "complainant.name");
    need(phone, "complainant.phone");
    need(facts, "facts");
    need(sector, "sector");
    let respondent;
    if (mode() === "odr") {
      need(enterprise, "respondent.merchant_id");
      respondent = { merchant_id: enterprise.value || undefined };
    } else {
      need(merchantName, "respondent.name");
      need(regionCode, "respondent.region_code");
      respondent = { name: text(merchantName), address: text(merchantAddress), uscc: text(uscc),
        region_code: text(regionCode) };
    }
    const request = { type: requestType.value, amount_fen: amount(requestAmount, "request.amount_fen") };
    const paid = amount(purchaseAmount, "purchase.amount_fen");
    const purchase = purchaseDate.value || paid !== undefined || text(orderNo)
      ? { date: purchaseDate.value || undefined, amount_fen: paid, order_no: text(orderNo) }
      : undefined;
    const body = {
      kind: alsoReport.checked ? "both" : "complaint",
      green_channel: mode() === "odr" && green.checked,
      complainant: { name: text(name), phone: text(phone), address: text(address) },
      respondent,
      request,
      facts: text(facts),
      purchase,
      sector: sector.value || undefined,
      channel: "web",
    };
    return { body, errors };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const { body, errors } = collect();
    replace(formStatus);
    if (errors.length) {
      showFieldErrors(form, errors);
      replace(formStatus, notice("error", t("fixErrors", { n: errors.length })));
      return;
    }
    for (const wrapper of form.querySelectorAll(".field")) setFieldError(wrapper, null);
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    submit.textContent = t("submitting");
    try {
      const filed = await fileComplaint(body, {
        onRetry: () => replace(formStatus, notice("info", t("submitRetrying"))),
      });
      sessionStorage.removeItem(DRAFT_KEY);
      navigate(`#/complaints/${filed.id}`, { kind: "success", text: t("filedOk", { no: filed.case_no }) });
    } catch (error) {
      if (error.fieldErrors?.length) {
        const unplaced = showFieldErrors(form, error.fieldErrors);
        replace(formStatus, notice("error",
          h("p", {}, t("fixErrors", { n: error.fieldErrors.length })),
          unplaced.length ? h("ul", {}, unplaced.map((e) => h("li", {}, `${e.field}: ${e.message}`))) : null));
      } else if (error.transient) {
        replace(formStatus, notice("error", t("submitFailed")));
      } else {
        replace(formStatus, notice("error", problemText(error)));
      }
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
      submit.textContent = t("submit");
    }
  });

  replace(root,
    h("h2", {}, t("newTitle")),
    h("p", { class: "lead" }, t("newIntro")),
    status,
    form);
  restoreDraft(form);
  showMode();

  loadEnterprises(signal).then((items) => {
    replace(enterprise, h("option", { value: "" }, t("odrChoose")),
      items.map((item) => h("option", { value: item.merchant_id, dataset: { sector: item.sector ?? "" } },
        item.name)));
    restoreDraft(form);
    showMode();
  }).catch((error) => {
    if (error.name === "AbortError") return;
    replace(enterprise, h("option", { value: "" }, t("odrChoose")));
    odrUnavailable.hidden = false;
    modeOther.checked = true;
    modeOdr.disabled = true;
    showMode();
  });
}

/** The approved ODR enterprises (several pages at most); an empty list counts as unavailable. */
async function loadEnterprises(signal) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 5; page += 1) {
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const answer = await api.get(`/v1/public/odr-enterprises?${query}`, { signal });
    items.push(...(answer?.items ?? []));
    cursor = answer?.next_cursor;
    if (!cursor) break;
  }
  if (!items.length) throw new Error("no ODR enterprises");
  return items;
}

function saveDraft(form) {
  const values = {};
  for (const control of form.elements) {
    if (!control.name) continue;
    if (control.type === "radio") {
      if (control.checked) values[control.name] = control.value;
    } else if (control.type === "checkbox") {
      values[control.name] = control.checked;
    } else {
      values[control.name] = control.value;
    }
  }
  sessionStorage.setItem(DRAFT_KEY, JSON.stringify(values));
}

function restoreDraft(form) {
  let values;
  try {
    values = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? "null");
  } catch {
    values = null;
  }
  if (!values) return;
  for (const control of form.elements) {
    if (!control.name || !(control.name in values)) continue;
    if (control.type === "radio") control.checked = values[control.name] === control.value;
    else if (control.type === "checkbox") control.checked = Boolean(values[control.name]);
    else if (control.tagName !== "SELECT" || [...control.options].some((o) => o.value === values[control.name])) {
      control.value = values[control.name];
    }
  }
  form.querySelector("textarea[name=facts]")?.dispatchEvent(new Event("input"));
}
