// The business a complaint or report names: an enrolled ODR enterprise found by search, or any business by name and
// region (province -> prefecture -> county).

import { api } from "../api.js";
import { field, fieldGroup, h, notice } from "../dom.js";
import { t } from "../i18n.js";
import { enterpriseCombobox, regionPicker } from "./pickers.js";

// Golmud: where the platform's first users are; a guess the person changes with two taps.
const DEFAULT_REGION = "632801";
const USCC = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

/** The section and what the form needs of it; `greenChannel` adds the green-channel choice (complaints only). */
export function respondentSection({ greenChannel = false, onEnterprise }) {
  const input = (attributes) => h("input", { type: "text", ...attributes });
  const modeOdr = h("input", { type: "radio", name: "respondent.mode", value: "odr", id: "mode-odr", checked: true });
  const modeOther = h("input", { type: "radio", name: "respondent.mode", value: "other", id: "mode-other" });
  const enterprise = enterpriseCombobox({ name: "respondent.merchant_id", onChoose: onEnterprise });
  const green = h("input", { type: "checkbox", name: "green_channel", id: "green", checked: true,
    "aria-describedby": "green-hint" });
  const merchantName = input({ name: "respondent.name", maxlength: "200", autocomplete: "organization" });
  const merchantAddress = input({ name: "respondent.address", maxlength: "500" });
  const region = regionPicker({ name: "respondent.region_code", initial: DEFAULT_REGION });
  const uscc = input({ name: "respondent.uscc", maxlength: "18", autocapitalize: "characters", spellcheck: "false" });
  const enterpriseField = field({ label: t("odrEnterprise"), name: "respondent.merchant_id", control: enterprise.control,
    element: enterprise.element, hint: t("odrSearch"), required: true });

  const odrBlock = h("div", { class: "stack" }, enterpriseField,
    greenChannel ? h("div", { class: "check-card" },
      h("div", { class: "check-row" }, green, h("label", { for: "green" }, t("greenChannel"))),
      h("p", { class: "hint", id: "green-hint" }, t("greenChannelHint"))) : null);
  const otherBlock = h("div", { class: "stack", hidden: true },
    field({ label: t("merchantName"), name: "respondent.name", control: merchantName, required: true }),
    fieldGroup({ legend: t("region"), name: "respondent.region_code", content: region.element,
      hint: t("regionHintPicker"), required: true }),
    field({ label: t("merchantAddress"), name: "respondent.address", control: merchantAddress,
      optionalText: t("optional") }),
    field({ label: t("uscc"), name: "respondent.uscc", control: uscc, hint: t("usccFormat"),
      optionalText: t("optional") }));
  const modeField = h("fieldset", { class: "field choice", dataset: { field: "respondent" } },
    h("legend", {}, t("respondentMode")),
    h("div", { class: "check-row" }, modeOdr, h("label", { for: "mode-odr" }, t("pickOdr"))),
    h("div", { class: "check-row" }, modeOther, h("label", { for: "mode-other" }, t("enterOther"))),
    h("p", { class: "field-error", role: "alert", hidden: true }));
  const unavailable = h("div", { hidden: true }, notice("info", t("odrNone")));

  const mode = () => (modeOther.checked ? "other" : "odr");
  const showMode = () => {
    odrBlock.hidden = mode() !== "odr";
    otherBlock.hidden = mode() !== "other";
  };
  modeOdr.addEventListener("change", showMode);
  modeOther.addEventListener("change", showMode);

  return {
    elements: [unavailable, modeField, odrBlock, otherBlock],
    isGreen: () => mode() === "odr" && green.checked,
    /** The respondent of the body; problems found go into `errors` ({field, code} or {field, text}). */
    collect(errors) {
      const text = (control) => control.value.trim() || undefined;
      if (mode() === "odr") {
        if (!enterprise.value.value) {
          errors.push(enterprise.control.value.trim()
            ? { field: "respondent.merchant_id", text: t("odrPickFromList") }
            : { field: "respondent.merchant_id", code: "missing" });
        }
        return { merchant_id: enterprise.value.value || undefined };
      }
      if (!merchantName.value.trim()) errors.push({ field: "respondent.name", code: "missing" });
      if (!region.value()) errors.push({ field: "respondent.region_code", text: t("regionInvalid") });
      const code = uscc.value.trim().toUpperCase();
      if (code && !USCC.test(code)) errors.push({ field: "respondent.uscc", text: t("usccFormat") });
      return { name: text(merchantName), address: text(merchantAddress), uscc: code || undefined,
        region_code: region.value() || undefined };
    },
    /** Load the enterprise and region lists, showing what the form's values (a restored draft) had chosen. */
    async load(signal) {
      showMode();
      const regions = region.load(signal).catch((error) => {
        if (error.name !== "AbortError") region.element.append(notice("error", t("regionsUnavailable")));
      });
      try {
        const items = await loadEnterprises(signal);
        enterprise.setItems(items);
        enterpriseField.querySelector(".hint").textContent = t("odrSearchHint", { n: items.length });
      } catch (error) {
        if (error.name === "AbortError") return;
        unavailable.hidden = false;
        modeOther.checked = true;
        modeOdr.disabled = true;
        showMode();
      }
      await regions;
    },
  };
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
