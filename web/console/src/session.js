// The signed-in regulator: the access token and what its claims say. Kept in sessionStorage so a reload keeps the
// tab signed in, while closing the tab (or the browser) signs out, as a shared office computer needs.
import { reactive } from 'vue'

const KEY = 'odr.console.session'

function claimsOf(token) {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes))
}

function restore() {
  const stored = sessionStorage.getItem(KEY)
  if (!stored) return null
  const saved = JSON.parse(stored)
  return saved.expiresAt > Date.now() ? saved : null
}

export const session = reactive({ current: restore() })

export function signIn(username, token) {
  const claims = claimsOf(token)
  session.current = { username, token, region: claims.region ?? null, roles: claims.roles ?? [],
    expiresAt: claims.exp * 1000 }
  sessionStorage.setItem(KEY, JSON.stringify(session.current))
}

export function signOut() {
  session.current = null
  sessionStorage.removeItem(KEY)
}
