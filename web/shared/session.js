// The signed-in user of one screen: the access token and what its claims say. Kept in sessionStorage so a reload
// keeps the tab signed in, while closing the tab (or the browser) signs out, as a shared office computer needs.
import { reactive } from 'vue'

export function claimsOf(token) {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes))
}

/** A session kept under `key`: {session, signIn(username, token, extra), signOut()}. */
export function createSession(key) {
  function restore() {
    const stored = sessionStorage.getItem(key)
    if (!stored) return null
    const saved = JSON.parse(stored)
    return saved.expiresAt > Date.now() ? saved : null
  }

  const session = reactive({ current: restore() })

  function signIn(username, token) {
    const claims = claimsOf(token)
    session.current = { username, token, region: claims.region ?? null, roles: claims.roles ?? [],
      merchantId: claims.merchant_id ?? null, expiresAt: claims.exp * 1000 }
    sessionStorage.setItem(key, JSON.stringify(session.current))
  }

  function signOut() {
    session.current = null
    sessionStorage.removeItem(key)
  }

  return { session, signIn, signOut }
}
