// A report (举报) on its own: a lead for the regulator that a business breaks the rules, anonymous if the person
// wishes; verified within 15 working days, and the business never learns who reported (Order 121 Art. 37).

import { fileComplaint, session } from "../api.js";
import { field, h, notice, replace } from "../dom.js";
import { fieldMessage, SECTORS, sectorName, t } from "../i18n.js";
import { problemText, showFieldErrors } from "./common.js";
import { evidencePicker } from "./pickers.js";
import { respondentSection } from "./respondent.js";

const FACTS_MAX = 5000;
const PHONE = /^1[3-9]\d{9}$/;

export function renderReport({ root, signal, navigate, message }) {
  const sector = h("select", { name: "sector" },
    h("option", { value: "" }, t("sectorChoose")),
    SECTORS.map(([code]) => h("option", { value: code }, sectorName(code))));
  const respondent = respondentSection({ onEnterprise: (item) => {
    if (item.sector && !sector.value) sector.value = item.sector;
  } });
  const facts = h("textarea", { name: "facts", rows: "6", maxlength: String(FACTS_MAX) });
  const photos = evidencePicker({ signal });
  const anonymous = h("input", { type: "checkbox", id: "anonymous", name: "anonymous" });
  const name = h("input", { type: "text", name: "complainant.name", autocomplete: "name", maxlength: "100" });
  const phone = h("input", { type: "tel", name: "complainant.phone", inputmode: "numeric", autocomplete: "tel-national",
    maxlength: "11", value: session()?.phone ?? "" });
  const reporter = h("div", { class: "stack" },
    field({ label: t("name"), name: "complainant.name", control: name, required: true }),
    field({ label: t("phone"), name: "complainant.phone", control: phone, hint: t("phoneHint"), required: true }));
  anonymous.addEventListener("change", () => { reporter.hidden = anonymous.checked; });

  const formStatus = h("div", { class: "status-slot" });
  const submit = h("button", { type: "submit", class: "primary" }, t("reportSubmit"));
  const form = h("form", { class: "stack", novalidate: true },
    h("section", { class: "card stack" }, h("h3", {}, t("reportWho")), respondent.elements),
    h("section", { class: "card stack" },
      h("h3", {}, t("reportFacts")),
      field({ label: t("facts"), name: "facts", control: facts, hint: t("reportFactsHint"), required: true }),
      field({ label: t("sector"), name: "sector", control: sector, required: true }),
      h("div", { class: "field", dataset: { field: "evidence_ids" } },
        h("h4", {}, t("evidence"), h("span", { class: "opt" }, `（${t("optional")}）`)),
        photos.element,
        h("p", { class: "field-error", role: "alert", hidden: true }))),
    h("section", { class: "card stack" },
      h("h3", {}, t("sectionYou")),
      h("div", { class: "check-row" }, anonymous, h("label", { for: "anonymous" }, t("anonymous"))),
      reporter),
    formStatus,
    submit);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled || photos.busy()) return;
    const errors = [];
    const respondentBody = respondent.collect(errors);
    if (!facts.value.trim()) errors.push({ field: "facts", code: "missing" });
    if (!sector.value) errors.push({ field: "sector", code: "missing" });
    if (!anonymous.checked) {
      if (!name.value.trim()) errors.push({ field: "complainant.name", code: "missing" });
      if (!PHONE.test(phone.value.trim())) {
        errors.push(phone.value.trim() ? { field: "complainant.phone", text: t("phoneFormat") }
          : { field: "complainant.phone", code: "missing" });
      }
    }
    replace(formStatus);
    if (errors.length) {
      showFieldErrors(form, errors);
      replace(formStatus, notice("error", t("fixErrors", { n: errors.length })));
      return;
    }
    const body = {
      kind: "report",
      complainant: anonymous.checked ? undefined : { name: name.value.trim(), phone: phone.value.trim() },
      respondent: respondentBody,
      // A report asks nothing for the reporter; the API's request field says so.
      request: { type: "other" },
      facts: facts.value.trim(),
      sector: sector.value,
      evidence_ids: photos.ids(),
      channel: "web",
    };
    submit.disabled = true;
    submit.textContent = t("submitting");
    try {
      const filed = await fileComplaint(body, { path: "/v1/consumer/reports",
        onRetry: () => replace(formStatus, notice("info", t("submitRetrying"))) });
      navigate(`#/complaints/${filed.id}`, { kind: "success", text: t("reportFiledOk", { no: filed.case_no }) });
    } catch (error) {
      if (error.fieldErrors?.length) {
        const unplaced = showFieldErrors(form, error.fieldErrors);
        replace(formStatus, notice("error", h("p", {}, t("fixErrors", { n: error.fieldErrors.length })),
          unplaced.length ? h("ul", {}, unplaced.map((e) => h("li", {}, fieldMessage(e)))) : null));
      } else {
        replace(formStatus, notice("error", problemText(error)));
      }
    } finally {
      submit.disabled = false;
      submit.textContent = t("reportSubmit");
    }
  });

  replace(root, h("h2", {}, t("reportTitle")), h("p", { class: "lead" }, t("reportIntro")), message, form);
  respondent.load(signal);
}
