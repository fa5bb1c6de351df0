// A signed-in staff member (console, station desk) or enterprise portal user: the short access token and what its
// claims say. The refresh
// token never reaches this code: the gateway keeps it in an HttpOnly, SameSite=Strict cookie scoped to /auth, a
// session cookie that the browser drops when it closes (a shared office or service-desk computer signs out with it).
// The access token is kept in sessionStorage under each screen's own key, so a reload keeps the tab signed in; a new
// tab signs in silently from the cookie. The token is renewed a minute before it expires and whenever the API
// answers 401.
import { reactive } from 'vue'

const EARLY_MS = 60_000

function claimsOf(token) {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes))
}

/**
 * The session of the screen whose token lives under `key`: {session, signIn, signOut, activeSession, refresh,
 * signedOutByServer}. `audience` names the gateway's refresh cookie (`regulator` for staff, `merchant` for the
 * portal's people); `i18n` gives the answers' language.
 */
export function createSession(key, { audience, i18n }) {
  // Set while this browser holds a session cookie, so a tab opened signed out only asks the gateway when it may
  // succeed.
  const hintKey = `${key}.signedIn`
  const lock = `${key}.refresh`
  const cookieHeaders = { 'X-Session-Cookie': audience, Accept: 'application/json' }

  function restore() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(key) ?? 'null')
      return saved && saved.expiresAt > Date.now() ? saved : null
    } catch {
      return null
    }
  }

  const session = reactive({ current: restore() })
  let renewal = null

  function adopt(username, token) {
    const claims = claimsOf(token)
    session.current = { username, token, region: claims.region ?? null, stationId: claims.station_id ?? null,
      merchantId: claims.merchant_id ?? null, roles: claims.roles ?? [], expiresAt: claims.exp * 1000 }
    sessionStorage.setItem(key, JSON.stringify(session.current))
    clearTimeout(renewal)
    localStorage.setItem(hintKey, '1')
    renewal = setTimeout(() => refresh(token), Math.max(session.current.expiresAt - Date.now() - EARLY_MS, 0))
  }

  function forget() {
    clearTimeout(renewal)
    session.current = null
    sessionStorage.removeItem(key)
    localStorage.removeItem(hintKey)
  }

  function tokenRequest(form) {
    return fetch('/auth/token', { method: 'POST',
      headers: { ...cookieHeaders, 'Accept-Language': i18n.global.locale.value },
      body: new URLSearchParams(form), credentials: 'same-origin', cache: 'no-store' })
  }

  /** Password sign-in (with `extra` fields: the authenticator's `totp`); a refusal's problem is returned for the form
   * to act on (a wrong password, a code or an account setup required). */
  async function signIn(username, password, extra = {}) {
    const response = await tokenRequest({ grant_type: 'password', username, password, ...extra })
    const body = await response.json().catch(() => null)
    if (!response.ok) return { problem: body, status: response.status }
    adopt(username, body.access_token)
    return { problem: null, status: null }
  }

  // Tabs take turns: two rotations of one refresh token at once would look like a stolen copy and end the session.
  function exclusively(work) {
    return navigator.locks ? navigator.locks.request(lock, work) : work()
  }

  /** A new access token from the cookie, unless the one in hand is no longer `stale` (another call renewed it). The
   * session ends when the gateway refuses (revoked, expired, account disabled); a network failure keeps it. */
  function refresh(stale = session.current?.token) {
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
      const token = (await response.json()).access_token
      adopt(session.current?.username ?? claimsOf(token).sub, token)
      return session.current
    })
  }

  /** The current session with a token good for at least a minute, renewed first if needed; null when signed out. */
  async function activeSession() {
    if (session.current && session.current.expiresAt - Date.now() > EARLY_MS) return session.current
    if (!session.current && !localStorage.getItem(hintKey)) return null
    return refresh(session.current?.token)
  }

  /** Ends the session everywhere: the gateway revokes the refresh token's family and deletes the cookie. */
  async function signOut() {
    forget()
    await fetch('/auth/revoke', { method: 'POST', headers: cookieHeaders, credentials: 'same-origin',
      cache: 'no-store' }).catch(() => null)
  }

  return { session, signIn, signOut, activeSession, refresh, signedOutByServer: forget }
}
