// The public API through this origin: the sign-in session, JSON requests and problem+json errors.

import { acceptLanguage } from "./i18n.js";

const SESSION_KEY = "odr.session";

/** An API failure: `status` 0 means the network failed; `problem` is the RFC 9457 body when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? null;
  }

  get fieldErrors() {
    return Array.isArray(this.problem?.errors) ? this.problem.errors : [];
  }

  /** Worth retrying unchanged: the network failed or a service was briefly unavailable. */
  get transient() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

// The session: the 15-minute access token (with the phone it was issued for) in localStorage, so every tab of this
// origin shares it and it survives a browser restart. The refresh token never reaches this code: the gateway keeps it
// in an HttpOnly, SameSite=Strict cookie scoped to /auth, and a stale access token is exchanged through it. The entry
// stays (token expired or not) until the person signs out or the gateway refuses the cookie.
export function session() {
  try {
    const stored = JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null");
    if (stored && typeof stored.token === "string") return stored;
  } catch {
    // A damaged entry is the same as none.
  }
  localStorage.removeItem(SESSION_KEY);
  return null;
}

const COOKIE_HEADERS = { "X-Session-Cookie": "consumer", Accept: "application/json" };
const EARLY_MS = 30000;
const REFRESH_LOCK = "odr.session.refresh";

function store(issued, phone) {
  const stored = { token: issued.access_token, phone, expiresAt: Date.now() + issued.expires_in * 1000 };
  localStorage.setItem(SESSION_KEY, JSON.stringify(stored));
  return stored;
}

function fresh(stored) {
  return stored.expiresAt - Date.now() > EARLY_MS;
}

// Tabs take turns: two rotations of one refresh token at once would look like a stolen copy and end the session.
function exclusively(work) {
  return navigator.locks ? navigator.locks.request(REFRESH_LOCK, work) : work();
}

/**
 * The session with an access token good for a while, renewed through the cookie first when it is about to lapse or
 * `rejected` (the token a request was just refused with) is still the one in hand. Null once signed out; when the
 * network fails the stale session is returned and the request fails (and is retried) as any other would.
 */
export function activeSession(rejected = null) {
  const usable = (stored) => fresh(stored) && stored.token !== rejected;
  const current = session();
  if (!current || usable(current)) return Promise.resolve(current);
  return exclusively(async () => {
    // Another tab (or request) may have renewed it while this one waited.
    const latest = session();
    if (!latest || usable(latest)) return latest;
    let response;
    try {
      response = await fetch("/auth/token", { method: "POST", headers: COOKIE_HEADERS, cache: "no-store",
        credentials: "same-origin", body: new URLSearchParams({ grant_type: "refresh_token" }) });
    } catch {
      return latest;
    }
    if (!response.ok) {
      localStorage.removeItem(SESSION_KEY);
      return null;
    }
    return store(await response.json(), latest.phone);
  });
}

/** Sign out here and everywhere: the gateway revokes the session (all its refresh tokens) and deletes the cookie. */
export async function signOut() {
  localStorage.removeItem(SESSION_KEY);
  await fetch("/auth/revoke", { method: "POST", headers: COOKIE_HEADERS, cache: "no-store",
    credentials: "same-origin" }).catch(() => null);
}

const listeners = new Set();

/** `callback()` runs when a request finds the session expired or revoked (401), or another tab signed out. */
export function onSignedOut(callback) {
  listeners.add(callback);
}

window.addEventListener("storage", (event) => {
  if (event.key === SESSION_KEY && event.newValue === null) for (const callback of listeners) callback();
});

async function send(method, path, { json, form, file, headers = {}, signal } = {}) {
  const requestHeaders = { Accept: "application/json", "Accept-Language": acceptLanguage(), ...headers };
  let body;
  if (json !== undefined) {
    requestHeaders["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    requestHeaders["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(form).toString();
  } else if (file !== undefined) {
    // Uploads are the raw file; the service sniffs the type from the content.
    requestHeaders["Content-Type"] = "application/octet-stream";
    body = file;
  }
  const attempt = async (current) => {
    const withToken = current ? { ...requestHeaders, Authorization: `Bearer ${current.token}` } : requestHeaders;
    try {
      return await fetch(path, { method, headers: withToken, body, signal, cache: "no-store", credentials: "omit" });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, null);
    }
  };
  const hadSession = session() !== null;
  let current = await activeSession();
  let response = await attempt(current);
  if (response.status === 401 && current) {
    // Refused before its time (the gateway restarted with another key, say): one renewal, one retry.
    current = await activeSession(current.token);
    if (current) response = await attempt(current);
  }
  const text = await response.text().catch(() => "");
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && hadSession) {
      localStorage.removeItem(SESSION_KEY);
      for (const callback of listeners) callback();
    }
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

export const api = {
  get: (path, options) => send("GET", path, options),
  post: (path, json, options = {}) => send("POST", path, { ...options, json }),
};

/** Ask for a sign-in code; in dev mode the answer carries it as `dev_code`. */
export function requestCode(phone) {
  return api.post("/auth/otp", { phone });
}

/** Exchange phone and code for a consumer session: the access token in localStorage, the refresh token in the
 * gateway's HttpOnly cookie. */
export async function signIn(phone, code) {
  let response;
  try {
    response = await fetch("/auth/token", { method: "POST", cache: "no-store", credentials: "same-origin",
      headers: { ...COOKIE_HEADERS, "Accept-Language": acceptLanguage() },
      body: new URLSearchParams({ grant_type: "otp", phone, code }) });
  } catch {
    throw new ApiError(0, null);
  }
  const parsed = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, parsed);
  return store(parsed, phone);
}

/** Upload one evidence file (a photo, say); the answer's `id` goes into the filing's `evidence_ids`. */
export function uploadEvidence(file, { signal } = {}) {
  const query = new URLSearchParams({ filename: file.name || "photo.jpg" });
  return send("POST", `/v1/consumer/evidence?${query}`, { file, signal });
}

/** A file the API serves only with the bearer token, as a blob: URL for an <img> or a link (revoke when done). */
export async function fileUrl(path, { signal } = {}) {
  const current = await activeSession();
  let response;
  try {
    response = await fetch(path, { headers: current ? { Authorization: `Bearer ${current.token}` } : {},
      cache: "no-store", credentials: "omit", signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, null);
  }
  if (!response.ok) throw new ApiError(response.status, null);
  return URL.createObjectURL(await response.blob());
}

const PENDING_KEY = "odr.pendingFiling";
const RETRY_DELAYS_MS = [1000, 3000];

/**
 * POST a complaint (or, at `path`, a report) exactly once: the Idempotency-Key is kept (also across a reload) for as long as the body is the
 * same, so a retry after a lost answer returns the complaint filed the first time instead of filing another.
 * `onRetry(attempt)` is told about automatic retries.
 */
export async function fileComplaint(body, { onRetry, path = "/v1/consumer/complaints" } = {}) {
  const serialized = JSON.stringify(body);
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? "null");
  } catch {
    pending = null;
  }
  if (!pending || pending.body !== serialized) {
    pending = { key: crypto.randomUUID(), body: serialized };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  }
  for (let attempt = 0; ; attempt += 1) {
    try {
      const filed = await api.post(path, body, { headers: { "Idempotency-Key": pending.key } });
      sessionStorage.removeItem(PENDING_KEY);
      return filed;
    } catch (error) {
      if (!(error instanceof ApiError) || !error.transient || attempt >= RETRY_DELAYS_MS.length) throw error;
      onRetry?.(attempt + 1);
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
    }
  }
}
