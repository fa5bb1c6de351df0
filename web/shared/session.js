// A signed-in staff member: the access token and what its claims say. Kept in sessionStorage under each screen's
// own key, so a reload keeps the tab signed in while closing the tab (or the browser) signs out, as a shared office
// or service-desk computer needs.
import { reactive } from 'vue'

function claimsOf(token) {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes))
}

/** {session, signIn, signOut} for the screen whose session lives under `key`. */
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
    session.current = { username, token, region: claims.region ?? null, stationId: claims.station_id ?? null,
      roles: claims.roles ?? [], expiresAt: claims.exp * 1000 }
    sessionStorage.setItem(key, JSON.stringify(session.current))
  }

  function signOut() {
    session.current = null
    sessionStorage.removeItem(key)
  }

  return { session, signIn, signOut }
}
