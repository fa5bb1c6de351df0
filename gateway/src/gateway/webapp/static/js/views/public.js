// Screens anyone may open, signed in or not: more services, the service-station finder, the disclosure list.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { categoryName, label, sectorName, t } from "../i18n.js";
import { money } from "../format.js";
import { errorNotice } from "./common.js";
import { regionPicker } from "./pickers.js";

export function renderMore({ root, message }) {
  replace(root,
    h("h2", {}, t("moreTitle")),
    message,
    h("ul", { class: "cards" },
      h("li", {}, h("a", { class: "card link-card", href: "#/stations" },
        h("strong", {}, `${t("stationsTitle")} →`), h("span", { class: "hint" }, t("stationsIntro")))),
      h("li", {}, h("a", { class: "card link-card", href: "#/public" },
        h("strong", {}, `${t("publicTitle")} →`), h("span", { class: "hint" }, t("publicIntro"))))),
    h("p", { class: "meta" }, t("installHint")));
}

/** Pages of `path` with "load more"; `item(entry)` draws one entry, `empty` is said when there is none. */
function pagedList({ root, signal, path, query, item, empty }) {
  const list = h("ul", { class: "cards", "aria-live": "polite" });
  const more = h("div", { class: "more" });
  replace(root, list, more);

  async function load(cursor) {
    const params = new URLSearchParams(query());
    if (cursor) params.set("cursor", cursor);
    replace(more, h("p", { class: "loading" }, t("loading")));
    try {
      const page = await api.get(`${path}?${params}`, { signal });
      const items = page?.items ?? [];
      if (!cursor) replace(list, items.length ? null : h("li", { class: "empty card" }, h("p", {}, empty)));
      list.append(...items.map((entry) => h("li", {}, item(entry))));
      replace(more, page?.next_cursor
        ? h("button", { type: "button", class: "secondary wide", onclick: () => load(page.next_cursor) }, t("loadMore"))
        : null);
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(more, errorNotice(error, () => load(cursor), signal));
    }
  }
  return load;
}

export function renderStations({ root, signal, message }) {
  const results = h("div");
  const region = regionPicker({ name: "region", anyLevel: true, onChange: () => load(null) });
  const load = pagedList({
    root: results, signal, path: "/v1/public/stations",
    query: () => (region.value() ? { region: region.value(), limit: "50" } : { limit: "50" }),
    empty: t("stationsEmpty"),
    item: (station) => h("article", { class: "card" },
      h("h3", {}, station.name),
      h("p", { class: "meta" }, t("stationHost", { host: station.host_name })),
      h("p", {}, station.address),
      h("p", {}, h("a", { href: `tel:${station.phone}` }, t("stationCall", { phone: station.phone })))),
  });
  replace(root,
    h("h2", {}, t("stationsTitle")),
    h("p", { class: "lead" }, t("stationsIntro")),
    message,
    h("fieldset", { class: "card filter" }, h("legend", {}, t("stationsRegion")), region.element),
    results);
  region.load(signal).catch(() => {
    // Without the region list the directory still lists every station.
  });
  load(null);
}

export function renderPublic({ root, signal, message }) {
  const results = h("div");
  const load = pagedList({
    root: results, signal, path: "/v1/public/complaints", query: () => ({ limit: "20" }),
    empty: t("publicEmpty"),
    item: (entry) => h("article", { class: "card" },
      h("div", { class: "row" }, h("h3", { class: "name" }, entry.respondent_name),
        h("span", { class: `badge ${entry.outcome === "closed_settled" ? "good" : "neutral"}` },
          label("outcome", entry.outcome))),
      h("p", { class: "meta" }, [sectorName(entry.sector), entry.category ? categoryName(entry.category) : null,
        label("request", entry.request_type)].filter(Boolean).join(" · ")),
      entry.facts ? h("p", {}, entry.facts) : null,
      entry.recovered_fen > 0 ? h("p", {}, `${t("recovered")} ${money(entry.recovered_fen)}`) : null,
      entry.answered_in_time === null ? null
        : h("p", { class: "meta" }, entry.answered_in_time ? t("answeredInTime") : t("answeredLate")),
      h("p", { class: "meta" }, `${entry.case_no} · ${t("publicFiled", { filed: entry.filed_on, closed: entry.closed_on })}`)),
  });
  replace(root, h("h2", {}, t("publicTitle")), h("p", { class: "lead" }, t("publicIntro")), message, results);
  load(null);
}
