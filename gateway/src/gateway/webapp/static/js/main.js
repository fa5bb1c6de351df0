// The shell: header, tab bar and a hash router (#/complaints, #/complaints/<id>, #/cases/<id>, #/new, #/login).

import { onSignedOut, session, signOut } from "./api.js";
import { h, notice, replace } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { renderCase } from "./views/case.js";
import { renderDetail } from "./views/detail.js";
import { renderFiling } from "./views/filing.js";
import { renderList } from "./views/list.js";
import { renderLogin } from "./views/login.js";

const main = document.getElementById("main");
const header = document.getElementById("bar");
const tabs = document.getElementById("tabs");
let leaving = new AbortController();
let flash = null;

const ROUTES = [
  [/^#\/login$/, () => renderLogin],
  [/^#\/new$/, () => renderFiling],
  [/^#\/complaints$/, () => renderList],
  [/^#\/complaints\/([\w-]+)$/, (id) => (context) => renderDetail(context, id)],
  [/^#\/cases\/([\w-]+)$/, (id) => (context) => renderCase(context, id)],
];

/** Go to a route; `message` is shown once on the page that opens. */
export function navigate(hash, message = null) {
  flash = message;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function renderShell() {
  setLang(lang());
  document.title = t("appTitle");
  const signedIn = session() !== null;
  replace(header,
    h("h1", { class: "title" }, h("a", { href: "#/complaints" }, t("appTitle"))),
    h("div", { class: "bar-actions" },
      // The name is the other language's own, in that language (lang): a visible text that differs from the
      // accessible name would fail WCAG 2.5.3 (label in name).
      h("button", { type: "button", class: "ghost", lang: lang() === "zh" ? "en" : "zh-CN", onclick: () => { setLang(lang() === "zh" ? "en" : "zh"); route(); } },
      t("langToggle")),
      signedIn ? h("button", { type: "button", class: "ghost",
        onclick: () => { signOut(); navigate("#/login"); } }, t("logout")) : null));
  tabs.hidden = !signedIn;
  const active = location.hash.startsWith("#/new") ? "new" : "list";
  replace(tabs,
    h("a", { href: "#/complaints", "aria-current": active === "list" ? "page" : null }, t("navList")),
    h("a", { href: "#/new", "aria-current": active === "new" ? "page" : null }, t("navNew")));
  tabs.setAttribute("aria-label", t("appTitle"));
  document.getElementById("skip").textContent = t("skip");
}

function route() {
  const hash = location.hash;
  // The skip link's own target is not a route.
  if (hash === "#main") return;
  leaving.abort();
  leaving = new AbortController();
  const signedIn = session() !== null;
  if (!signedIn && hash !== "#/login") {
    if (location.hash !== "#/login") {
      location.hash = "#/login";
      return;
    }
  }
  if (signedIn && (hash === "" || hash === "#/" || hash === "#/login")) {
    location.hash = "#/complaints";
    return;
  }
  renderShell();
  let render = null;
  for (const [pattern, make] of ROUTES) {
    const match = pattern.exec(hash);
    if (match) {
      render = make(...match.slice(1));
      break;
    }
  }
  if (!render) {
    location.hash = signedIn ? "#/complaints" : "#/login";
    return;
  }
  const message = flash;
  flash = null;
  replace(main);
  const context = { root: main, signal: leaving.signal, navigate, message: message ? notice(message.kind, message.text) : null };
  render(context);
  // Each view names itself in its first heading; the tab title follows, so history and screen readers can tell pages apart.
  const heading = main.querySelector("h2")?.textContent;
  document.title = heading ? `${heading} · ${t("appTitle")}` : t("appTitle");
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

onSignedOut(() => navigate("#/login", { kind: "error", text: t("sessionExpired") }));
window.addEventListener("hashchange", route);
route();
