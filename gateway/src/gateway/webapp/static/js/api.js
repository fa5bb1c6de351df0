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

// The session lives in localStorage so that every tab of this origin shares it (a link opened in a new tab stays
// signed in); it lasts as long as the access token. Staying signed in past that needs refresh tokens.
export function session() {
  try {
    const stored = JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null");
    if (stored && stored.expiresAt > Date.now()) return stored;
  } catch {
    // A damaged entry is the same as none.
  }
  localStorage.removeItem(SESSION_KEY);
  return null;
}

export function signOut() {
  localStorage.removeItem(SESSION_KEY);
}

const listeners = new Set();

/** `callback()` runs when a request finds the session expired or revoked (401). */
export function onSignedOut(callback) {
  listeners.add(callback);
}

async function send(method, path, { json, form, file, headers = {}, signal } = {}) {
  const current = session();
  const requestHeaders = { Accept: "application/json", "Accept-Language": acceptLanguage(), ...headers };
  if (current) requestHeaders.Authorization = `Bearer ${current.token}`;
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
  let response;
  try {
    response = await fetch(path, { method, headers: requestHeaders, body, signal, cache: "no-store",
      credentials: "omit" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, null);
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
    if (response.status === 401 && current) {
      signOut();
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

/** Exchange phone and code for a consumer token, kept in localStorage (shared by this origin's tabs). */
export async function signIn(phone, code) {
  const issued = await send("POST", "/auth/token", { form: { grant_type: "otp", phone, code } });
  const stored = { token: issued.access_token, phone, expiresAt: Date.now() + issued.expires_in * 1000 };
  localStorage.setItem(SESSION_KEY, JSON.stringify(stored));
  return stored;
}

/** Upload one evidence file (a photo, say); the answer's `id` goes into the filing's `evidence_ids`. */
export function uploadEvidence(file, { signal } = {}) {
  const query = new URLSearchParams({ filename: file.name || "photo.jpg" });
  return send("POST", `/v1/consumer/evidence?${query}`, { file, signal });
}

/** A file the API serves only with the bearer token, as a blob: URL for an <img> or a link (revoke when done). */
export async function fileUrl(path, { signal } = {}) {
  const current = session();
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
