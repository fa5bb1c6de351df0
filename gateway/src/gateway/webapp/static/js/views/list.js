// My complaints, newest first, a page at a time ("load more" follows next_cursor), and the download of all my data.

import { api } from "../api.js";
import { busyButton, h, notice, replace } from "../dom.js";
import { label, t } from "../i18n.js";
import { dateOnly } from "../format.js";
import { badge, errorNotice, problemText } from "./common.js";

const PAGE_SIZE = 20;

export function renderList({ root, signal, message }) {
  const list = h("ul", { class: "cards", "aria-live": "polite" });
  const more = h("div", { class: "more" });
  replace(root, h("h2", {}, t("listTitle")), message, list, more, h("p", { class: "loading" }, t("loading")),
    exportCard());

  async function load(cursor) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set("cursor", cursor);
    replace(more, h("p", { class: "loading" }, t("loading")));
    try {
      const page = await api.get(`/v1/consumer/complaints?${query}`, { signal });
      root.querySelector(":scope > .loading")?.remove();
      const items = page?.items ?? [];
      if (!cursor && items.length === 0) {
        replace(list, h("li", { class: "empty card" },
          h("p", {}, t("listEmpty")),
          h("a", { class: "button primary", href: "#/new" }, t("fileFirst"))));
      }
      list.append(...items.map(item));
      replace(more, page?.next_cursor
        ? h("button", { type: "button", class: "secondary wide", onclick: () => load(page.next_cursor) }, t("loadMore"))
        : null);
    } catch (error) {
      if (error.name === "AbortError") return;
      root.querySelector(":scope > .loading")?.remove();
      replace(more, errorNotice(error, () => load(cursor), signal));
    }
  }
  load(null);
}

function item(summary) {
  return h("li", {},
    h("a", { class: "card link-card", href: `#/complaints/${summary.id}` },
      h("div", { class: "row" },
        h("strong", { class: "name" }, summary.respondent_name ?? ""),
        badge("status", summary.status)),
      h("div", { class: "meta" },
        h("span", {}, `${label("kind", summary.kind)} · ${label("request", summary.request_type)}`),
        h("span", {}, t("filedAt", { at: dateOnly(summary.filed_at) }))),
      h("div", { class: "meta mono" }, summary.case_no)));
}

/** Everything the platform holds about me, as one JSON file (PIPL Art. 45). */
function exportCard() {
  const status = h("div", { class: "status-slot" });
  const download = busyButton({ class: "secondary wide" }, t("exportData"), t("exporting"), async () => {
    try {
      const data = await api.get("/v1/consumer/personal-data");
      const link = h("a", {
        href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" })),
        download: `personal-data-${new Date().toISOString().slice(0, 10)}.json`,
      });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      replace(status, notice("success", t("exported")));
    } catch (error) {
      replace(status, notice("error", problemText(error)));
    }
  });
  return h("section", { class: "card stack personal-data", "aria-labelledby": "export-title" },
    h("h3", { id: "export-title" }, t("exportData")), h("p", { class: "meta" }, t("exportHint")), status, download);
}
