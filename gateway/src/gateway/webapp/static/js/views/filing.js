// Filing a complaint: the canonical body of architecture.md §5, sent once (Idempotency-Key kept across retries).

import { fileComplaint, session } from "../api.js";
import { field, h, notice, replace, setFieldError } from "../dom.js";
import { CATEGORIES, categoryName, fieldMessage, label, SECTORS, sectorName, t } from "../i18n.js";
import { todayLocal, yuanToFen } from "../format.js";
import { problemText, showFieldErrors } from "./common.js";
import { evidencePicker } from "./pickers.js";
import { respondentSection } from "./respondent.js";

const DRAFT_KEY = "odr.draft";
const REQUEST_TYPES = ["refund", "exchange", "repair", "compensation", "other"];
const FACTS_MAX = 5000;
const PHONE = /^1[3-9]\d{9}$/;

export function renderFiling({ root, signal, navigate, message }) {
  const status = h("div", { class: "status-slot" }, message);
  const input = (attributes) => h("input", { type: "text", ...attributes });

  // about you
  const name = input({ name: "complainant.name", autocomplete: "name", maxlength: "100" });
  const phone = input({ name: "complainant.phone", type: "tel", inputmode: "numeric", autocomplete: "tel-national",
    maxlength: "11", value: session()?.phone ?? "" });
  const address = input({ name: "complainant.address", autocomplete: "street-address", maxlength: "500" });

  // what happened (the sector is filled in from the enterprise chosen, when it has one)
  const sector = h("select", { name: "sector" },
    h("option", { value: "" }, t("sectorChoose")),
    SECTORS.map(([code]) => h("option", { value: code }, sectorName(code))));
  const respondent = respondentSection({ greenChannel: true, onEnterprise: (item) => {
    if (item.sector && !sector.value) sector.value = item.sector;
  } });

  // what you want
  const requestType = h("select", { name: "request.type" },
    REQUEST_TYPES.map((code) => h("option", { value: code }, label("request", code))));
  const requestAmount = input({ name: "request.amount", inputmode: "decimal", autocomplete: "off" });

  const facts = h("textarea", { name: "facts", rows: "6", maxlength: String(FACTS_MAX) });
  const factsLeft = h("p", { class: "hint counter" }, t("charsLeft", { n: FACTS_MAX }));
  facts.addEventListener("input", () => { factsLeft.textContent = t("charsLeft", { n: FACTS_MAX - facts.value.length }); });
  const category = h("select", { name: "category" },
    h("option", { value: "" }, t("categoryChoose")),
    CATEGORIES.map(([code]) => h("option", { value: code }, categoryName(code))));
  const purchaseDate = h("input", { type: "date", name: "purchase.date", max: todayLocal() });
  const purchaseAmount = input({ name: "purchase.amount", inputmode: "decimal", autocomplete: "off" });
  const orderNo = input({ name: "purchase.order_no", maxlength: "100", autocapitalize: "characters" });
  const photos = evidencePicker({ signal });
  const alsoReport = h("input", { type: "checkbox", name: "also_report", id: "also-report" });

  const submit = h("button", { type: "submit", class: "primary" }, t("submit"));
  const form = h("form", { class: "stack", novalidate: true },
    h("section", { class: "card stack" },
      h("h3", {}, t("sectionYou")),
      field({ label: t("name"), name: "complainant.name", control: name, required: true }),
      field({ label: t("phone"), name: "complainant.phone", control: phone, hint: t("phoneHint"), required: true }),
      field({ label: t("address"), name: "complainant.address", control: address, optionalText: t("optional") })),
    h("section", { class: "card stack" },
      h("h3", {}, t("sectionRespondent")),
      respondent.elements),
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
      field({ label: t("category"), name: "category", control: category, optionalText: t("optional") }),
      field({ label: t("purchaseDate"), name: "purchase.date", control: purchaseDate, optionalText: t("optional") }),
      field({ label: t("purchaseAmount"), name: "purchase.amount_fen", control: purchaseAmount, hint: t("amountHint"),
        optionalText: t("optional") }),
      field({ label: t("orderNo"), name: "purchase.order_no", control: orderNo, optionalText: t("optional") }),
      h("div", { class: "field", dataset: { field: "evidence_ids" } },
        h("h4", {}, t("evidence"), h("span", { class: "opt" }, `（${t("optional")}）`)),
        photos.element,
        h("p", { class: "field-error", role: "alert", hidden: true })),
      h("div", { class: "check-row" }, alsoReport, h("label", { for: "also-report" }, t("alsoReport")))),
    h("div", { class: "status-slot", id: "filing-status" }),
    submit);
  const formStatus = form.querySelector("#filing-status");
  form.addEventListener("input", () => saveDraft(form));
  form.addEventListener("change", () => saveDraft(form));

  function collect() {
    const errors = [];
    const text = (control) => control.value.trim() || undefined;
    const need = (control, path) => {
      if (!control.value.trim()) errors.push({ field: path, code: "missing" });
    };
    const amount = (control, path) => {
      const fen = yuanToFen(control.value);
      if (Number.isNaN(fen)) errors.push({ field: path, text: t("amountInvalid") });
      return fen ?? undefined;
    };
    need(name, "complainant.name");
    if (!phone.value.trim()) need(phone, "complainant.phone");
    else if (!PHONE.test(phone.value.trim())) errors.push({ field: "complainant.phone", text: t("phoneFormat") });
    const respondentBody = respondent.collect(errors);
    need(facts, "facts");
    need(sector, "sector");
    const request = { type: requestType.value, amount_fen: amount(requestAmount, "request.amount_fen") };
    const paid = amount(purchaseAmount, "purchase.amount_fen");
    // The API takes a purchase with its date and amount (the order number is optional).
    let purchase;
    if (purchaseDate.value || paid !== undefined || text(orderNo)) {
      if (!purchaseDate.value) errors.push({ field: "purchase.date", text: t("purchaseNeedsDate") });
      else if (purchaseDate.value > todayLocal()) errors.push({ field: "purchase.date", text: t("dateFormat") });
      if (paid === undefined) errors.push({ field: "purchase.amount_fen", text: t("purchaseNeedsDate") });
      purchase = { date: purchaseDate.value || undefined, amount_fen: paid, order_no: text(orderNo) };
    }
    const body = {
      kind: alsoReport.checked ? "both" : "complaint",
      green_channel: respondent.isGreen(),
      complainant: { name: text(name), phone: text(phone), address: text(address) },
      respondent: respondentBody,
      request,
      facts: text(facts),
      purchase,
      sector: sector.value || undefined,
      category: category.value || undefined,
      evidence_ids: photos.ids(),
      channel: "web",
    };
    return { body, errors };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled || photos.busy()) return;
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
          unplaced.length ? h("ul", {}, unplaced.map((e) => h("li", {}, fieldMessage(e)))) : null));
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
  // The draft names the chosen enterprise and region by code; loading the lists then shows their names.
  restoreDraft(form);
  respondent.load(signal);
}

function saveDraft(form) {
  const values = {};
  for (const control of form.elements) {
    if (!control.name || control.type === "file") continue;
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
    if (!control.name || !(control.name in values) || control.type === "file") continue;
    if (control.type === "radio") control.checked = values[control.name] === control.value;
    else if (control.type === "checkbox") control.checked = Boolean(values[control.name]);
    else if (control.tagName !== "SELECT" || [...control.options].some((o) => o.value === values[control.name])) {
      control.value = values[control.name];
    }
  }
  form.querySelector("textarea[name=facts]")?.dispatchEvent(new Event("input"));
}
