// The shell: header, tab bar and a hash router (#/complaints, #/complaints/<id>, #/cases/<id>, #/new, #/report,
// #/more, #/stations, #/public, #/login).

import { onSignedOut, session, signOut } from "./api.js";
import { h, notice, replace } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { renderCase } from "./views/case.js";
import { renderDetail } from "./views/detail.js";
import { renderFiling } from "./views/filing.js";
import { renderList } from "./views/list.js";
import { renderLogin } from "./views/login.js";
import { renderMore, renderPublic, renderStations } from "./views/public.js";
import { renderReport } from "./views/report.js";

const main = document.getElementById("main");
const header = document.getElementById("bar");
const tabs = document.getElementById("tabs");
let leaving = new AbortController();
const RETURN_KEY = "odr.returnTo";
// Screens anyone may open, signed in or not.
const PUBLIC_ROUTES = new Set(["#/more", "#/stations", "#/public"]);
const TABS = [["#/complaints", "navList"], ["#/new", "navNew"], ["#/report", "navReport"], ["#/more", "navMore"]];
// Which tab a page belongs to; a case or complaint page belongs to the list.
const TAB_OF = { "#/new": "#/new", "#/report": "#/report", "#/more": "#/more", "#/stations": "#/more",
  "#/public": "#/more" };

/** The page a signed-out visitor had opened, once (then forgotten). */
function takeReturn() {
  const hash = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return hash;
}
let flash = null;

const ROUTES = [
  [/^#\/login$/, () => renderLogin],
  [/^#\/new$/, () => renderFiling],
  [/^#\/report$/, () => renderReport],
  [/^#\/more$/, () => renderMore],
  [/^#\/stations$/, () => renderStations],
  [/^#\/public$/, () => renderPublic],
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
  const active = TAB_OF[location.hash] ?? "#/complaints";
  replace(tabs, TABS.map(([hash, key]) => h("a", { href: hash, "aria-current": active === hash ? "page" : null },
    t(key))));
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
  if (!signedIn && hash !== "#/login" && !PUBLIC_ROUTES.has(hash)) {
    // A deep link (a case sent by SMS, say) opens again once the person has signed in.
    if (/^#\/(complaints|cases)\/[\w-]+$/.test(hash)) sessionStorage.setItem(RETURN_KEY, hash);
    location.hash = "#/login";
    return;
  }
  if (signedIn && (hash === "" || hash === "#/" || hash === "#/login")) {
    location.hash = takeReturn() ?? "#/complaints";
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
// The page's CSP takes script URLs only from its one Trusted Types policy, which passes the service worker and
// nothing else.
const workerPolicy = window.trustedTypes?.createPolicy("odr-sw", {
  createScriptURL: (url) => {
    if (url !== "sw.js") throw new TypeError(`not the app's service worker: ${url}`);
    return url;
  },
});
const scriptUrl = (url) => workerPolicy?.createScriptURL(url) ?? url;
// The offline shell (sw.js caches the app's own files, never an API answer); without support the app works as it is.
navigator.serviceWorker?.register(scriptUrl("sw.js")).catch(() => {});
