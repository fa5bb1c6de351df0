// The signed-in staff member: the short access token and what its claims say. The refresh token never reaches this
// code: the gateway keeps it in an HttpOnly, SameSite=Strict cookie scoped to /auth, a session cookie that the
// browser drops when it closes (a shared office computer signs out with it). The access token is kept in
// sessionStorage so a reload keeps the tab signed in; a new tab signs in silently from the cookie.
// The token is renewed a minute before it expires and whenever the API answers 401.
import { reactive } from 'vue'
import { i18n } from './i18n.js'

const KEY = 'odr.console.session'
// Set while this browser holds a session cookie, so a tab opened signed out only asks the gateway when it may succeed.
const HINT_KEY = 'odr.console.signedIn'
const COOKIE_HEADERS = { 'X-Session-Cookie': 'regulator', Accept: 'application/json' }
const EARLY_MS = 60_000
const LOCK = 'odr.console.refresh'

function claimsOf(token) {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes))
}

function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null')
    return saved && saved.expiresAt > Date.now() ? saved : null
  } catch {
    return null
  }
}

export const session = reactive({ current: restore() })
let renewal = null

function adopt(token) {
  const claims = claimsOf(token)
  session.current = { username: claims.sub, token, region: claims.region ?? null, expiresAt: claims.exp * 1000 }
  sessionStorage.setItem(KEY, JSON.stringify(session.current))
  localStorage.setItem(HINT_KEY, '1')
  clearTimeout(renewal)
  renewal = setTimeout(() => refresh(token), Math.max(session.current.expiresAt - Date.now() - EARLY_MS, 0))
}

function forget() {
  clearTimeout(renewal)
  session.current = null
  sessionStorage.removeItem(KEY)
  localStorage.removeItem(HINT_KEY)
}

async function tokenRequest(form) {
  return fetch('/auth/token', { method: 'POST', headers: { ...COOKIE_HEADERS, 'Accept-Language': i18n.global.locale.value },
    body: new URLSearchParams(form), credentials: 'same-origin', cache: 'no-store' })
}

/** Password sign-in; the answer's problem (wrong password, say) is returned for the form to show. */
export async function signIn(username, password) {
  const response = await tokenRequest({ grant_type: 'password', username, password })
  const body = await response.json().catch(() => null)
  if (!response.ok) return { problem: body, status: response.status }
  adopt(body.access_token)
  return { problem: null }
}

// Tabs take turns: two rotations of one refresh token at once would look like a stolen copy and end the session.
function exclusively(work) {
  return navigator.locks ? navigator.locks.request(LOCK, work) : work()
}

/**
 * A new access token from the cookie, unless the one in hand is no longer `stale` (another call renewed it). The
 * session ends when the gateway refuses (revoked, expired, account disabled); a network failure keeps it for a retry.
 */
export function refresh(stale = session.current?.token) {
  return exclusively(async () => {
    if (session.current && session.current.token !== stale && session.current.expiresAt - Date.now() > EARLY_MS) {
      return session.current
    }
    let response
    try {
      response = await tokenRequest({ grant_type: 'refresh_token' })
    } catch {
      return session.current
    }
    if (!response.ok) {
      forget()
      return null
    }
    adopt((await response.json()).access_token)
    return session.current
  })
}

/** The current session with a token good for at least a minute, renewed first if needed; null when signed out. */
export async function activeSession() {
  if (session.current && session.current.expiresAt - Date.now() > EARLY_MS) return session.current
  if (!session.current && !localStorage.getItem(HINT_KEY)) return null
  return refresh(session.current?.token)
}

/** Ends the session everywhere: the gateway revokes the refresh token's family and deletes the cookie. */
export async function signOut() {
  forget()
  await fetch('/auth/revoke', { method: 'POST', headers: COOKIE_HEADERS, credentials: 'same-origin',
    cache: 'no-store' }).catch(() => null)
}

/** Ends the session in this tab after the API refused the token and no new one could be had. */
export function signedOutByServer() {
  forget()
}
