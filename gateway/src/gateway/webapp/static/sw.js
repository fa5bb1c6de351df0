// The offline shell: the app's own files, cached at install and refreshed from the network whenever it answers, so
// the app opens without a network. Nothing else is touched: API answers (personal data) are never cached.

const CACHE = "odr-app-shell-v1";
// Every file of the app, relative to this script (/app/); the gateway's tests check that none is missing.
const SHELL = [
  "./", "index.html", "app.css", "icon.svg", "manifest.webmanifest",
  "js/api.js", "js/dom.js", "js/format.js", "js/i18n.js", "js/main.js", "js/sse.js",
  "js/views/case.js", "js/views/common.js", "js/views/detail.js", "js/views/files.js", "js/views/filing.js",
  "js/views/list.js", "js/views/login.js", "js/views/pickers.js", "js/views/public.js", "js/views/report.js",
  "js/views/respondent.js",
];
const SHELL_PATHS = new Set(SHELL.map((path) => new URL(path, self.location).pathname));

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !SHELL_PATHS.has(url.pathname)) return;
  // Network first: an update is never half-applied while online; the cached copy stands in only when offline.
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    }
    return response;
  }).catch(() => caches.match(event.request, { ignoreSearch: true })
    .then((cached) => cached ?? caches.match("index.html"))));
});
