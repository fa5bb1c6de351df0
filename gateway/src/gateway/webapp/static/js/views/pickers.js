// Form controls the filing and report forms share: a searchable enterprise picker (ARIA combobox), a province ->
// prefecture -> county picker, and evidence photos from the camera or a file.

import { api, uploadEvidence } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { t } from "../i18n.js";
import { problemText } from "./common.js";

/**
 * An editable combobox with a list of matches (WAI-ARIA 1.2 combobox pattern): type part of a name, move with the
 * arrow keys, choose with Enter or a tap. The chosen id is in the hidden `input` (its `name` is the API field);
 * `onChoose(item)` runs when one is chosen.
 */
export function enterpriseCombobox({ name, onChoose }) {
  const listId = uid("odr-list");
  const value = h("input", { type: "hidden", name });
  const text = h("input", { type: "text", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
    "aria-controls": listId, autocomplete: "off", name: `${name}.search`, placeholder: t("odrSearch") });
  const list = h("ul", { role: "listbox", id: listId, class: "listbox", hidden: true, "aria-label": t("odrEnterprise") });
  const count = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  let items = [];
  let shown = [];
  let active = -1;

  const close = () => {
    list.hidden = true;
    text.setAttribute("aria-expanded", "false");
    text.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const choose = (item) => {
    value.value = item.merchant_id;
    text.value = item.name;
    close();
    onChoose?.(item);
    value.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const highlight = (index) => {
    active = index;
    for (const [position, option] of [...list.children].entries()) {
      option.setAttribute("aria-selected", String(position === index));
    }
    const option = list.children[index];
    if (option) {
      text.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }
  };
  const open = () => {
    const query = text.value.trim().toLowerCase();
    shown = items.filter((item) => item.name.toLowerCase().includes(query));
    replace(list, shown.length
      ? shown.map((item, index) => h("li", { role: "option", id: `${listId}-${index}`, "aria-selected": "false",
        onmousedown: (event) => event.preventDefault(), onclick: () => choose(item) }, item.name))
      : h("li", { class: "empty", role: "option", "aria-disabled": "true", "aria-selected": "false" },
        t("odrNoMatch", { q: text.value.trim() })));
    list.hidden = false;
    text.setAttribute("aria-expanded", "true");
    count.textContent = shown.length ? t("odrMatches", { n: shown.length }) : t("odrNoMatch", { q: text.value.trim() });
    active = -1;
  };

  text.addEventListener("input", () => {
    // What was chosen no longer matches what is typed: nothing is chosen until a list entry is.
    if (value.value) value.value = "";
    open();
  });
  text.addEventListener("focus", open);
  text.addEventListener("blur", close);
  text.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) open();
      if (!shown.length) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + shown.length) % shown.length);
    } else if (event.key === "Enter" && !list.hidden && active >= 0) {
      event.preventDefault();
      choose(shown[active]);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });

  return {
    control: text,
    element: h("div", { class: "combobox" }, text, list, count, value),
    value,
    setItems(loaded) {
      items = loaded;
      const chosen = items.find((item) => item.merchant_id === value.value);
      if (chosen) text.value = chosen.name;
      // Typed before the list arrived (a slow network): show what the text matches now, not "no match".
      if (!list.hidden) open();
    },
  };
}

let regionList = null;

/** The regions the API knows ({code, name, level, parent_code}), fetched once per page load. */
function loadRegions(signal) {
  regionList ??= api.get("/v1/public/regions", { signal }).then((answer) => answer?.items ?? []);
  regionList.catch(() => { regionList = null; });
  return regionList;
}

/**
 * Province, then prefecture, then county selects; `value()` is the most precise region chosen (a county, or a
 * prefecture or province with nothing listed below it), "" while incomplete. `anyLevel` lets any level stand
 * (a search filter), with "(all)" as the first choice of each level.
 */
export function regionPicker({ name, initial = "", anyLevel = false, onChange }) {
  const levels = ["province", "prefecture", "county"].map((level) => {
    const select = h("select", { name: `${name}.${level}`, id: uid(level) });
    return { level, select, wrapper: h("div", { class: "region-level" },
      h("label", { for: select.id }, t(level)), select) };
  });
  const hidden = h("input", { type: "hidden", name });
  let regions = [];

  const childrenOf = (code) => regions.filter((region) => region.parent_code === code);
  const fill = (index, parent) => {
    const { select, wrapper } = levels[index];
    const options = index === 0 ? regions.filter((region) => region.level === "province") : childrenOf(parent);
    wrapper.hidden = options.length === 0;
    replace(select, h("option", { value: "" }, anyLevel ? t("regionAny") : t("regionChoose")),
      options.map((region) => h("option", { value: region.code }, region.name)));
    for (const later of levels.slice(index + 1)) {
      later.wrapper.hidden = true;
      replace(later.select);
    }
  };
  const current = () => {
    const chosen = levels.filter(({ select, wrapper }) => !wrapper.hidden && select.value);
    const deepest = chosen.at(-1)?.select.value ?? "";
    if (anyLevel || !deepest) return deepest;
    // Complete when the level below the deepest choice has nothing to choose from.
    return childrenOf(deepest).length === 0 ? deepest : "";
  };
  levels.forEach(({ select }, index) => select.addEventListener("change", () => {
    if (index < levels.length - 1) fill(index + 1, select.value);
    hidden.value = current();
    onChange?.(hidden.value);
  }));

  const set = (code) => {
    const chain = [];
    for (let region = regions.find((r) => r.code === code); region;
      region = regions.find((r) => r.code === region.parent_code)) chain.unshift(region.code);
    fill(0, null);
    chain.forEach((regionCode, index) => {
      levels[index].select.value = regionCode;
      if (index + 1 < levels.length) fill(index + 1, regionCode);
    });
    hidden.value = current();
  };

  return {
    element: h("div", { class: "region-picker" }, levels.map(({ wrapper }) => wrapper), hidden),
    value: () => hidden.value,
    load(signal) {
      return loadRegions(signal).then((loaded) => {
        regions = loaded;
        set(hidden.value || initial);
      });
    },
  };
}

const PHOTOS_MAX = 9;

/**
 * Evidence photos: the camera (on a phone) or a file; each is uploaded as soon as it is chosen and shown as a
 * thumbnail from the local file. `ids()` are the uploads to name in `evidence_ids`; `busy()` while one uploads.
 * Two inputs, because `capture` makes a phone open the camera only, with no way to the album or the files.
 */
export function evidencePicker({ signal }) {
  const camera = h("input", { type: "file", accept: "image/*", capture: "environment",
    class: "visually-hidden", id: uid("camera") });
  const input = h("input", { type: "file", accept: "image/*", multiple: true, class: "visually-hidden",
    id: uid("photo") });
  const list = h("ul", { class: "files" });
  const status = h("div", { role: "status" });
  const uploads = [];
  let uploading = 0;

  async function chosen(event) {
    const files = [...event.target.files];
    event.target.value = "";
    replace(status);
    for (const file of files) {
      if (uploads.length >= PHOTOS_MAX) {
        replace(status, h("p", { class: "field-error" }, t("evidenceTooMany", { n: PHOTOS_MAX })));
        break;
      }
      const url = URL.createObjectURL(file);
      const item = h("li", { class: "uploading" }, h("img", { src: url, alt: file.name, width: "96", height: "96" }),
        h("span", { class: "meta" }, t("evidenceUploading", { name: file.name })));
      list.append(item);
      uploading += 1;
      try {
        const stored = await uploadEvidence(file, { signal });
        const entry = { id: stored.id, name: file.name };
        uploads.push(entry);
        item.classList.remove("uploading");
        replace(item, h("img", { src: url, alt: file.name, width: "96", height: "96" }),
          h("button", { type: "button", class: "ghost remove", "aria-label": t("evidenceRemove", { name: file.name }),
            onclick: () => {
              uploads.splice(uploads.indexOf(entry), 1);
              item.remove();
              URL.revokeObjectURL(url);
              input.focus();
            } }, "×"));
      } catch (error) {
        if (error.name === "AbortError") return;
        item.remove();
        URL.revokeObjectURL(url);
        status.append(h("p", { class: "field-error" }, t("evidenceFailed", { name: file.name, reason: problemText(error) })));
      } finally {
        uploading -= 1;
      }
    }
  }
  camera.addEventListener("change", chosen);
  input.addEventListener("change", chosen);

  return {
    element: h("div", { class: "stack evidence" },
      h("p", { class: "hint", id: `${input.id}-hint` }, t("evidenceHint", { n: PHOTOS_MAX })),
      h("div", { class: "row evidence-sources" },
        h("span", {}, camera, h("label", { for: camera.id, class: "button secondary" }, t("evidenceCamera"))),
        h("span", {}, input, h("label", { for: input.id, class: "button secondary" }, t("evidenceAdd")))),
      list, status),
    ids: () => uploads.map((entry) => entry.id),
    busy: () => uploading > 0,
  };
}
