// The signed-in person of the enterprise (web/shared/session.js), kept per tab; the token's roles say whether they
// are the enterprise's portal admin. Refreshed like the console's, from the gateway's `merchant` cookie.
import { computed } from 'vue'
import { createSession } from '@shared/session.js'
import { i18n } from './i18n.js'

export const { session, signIn, signOut, activeSession, refresh, signedOutByServer } =
  createSession('odr.portal.session', { audience: 'merchant', i18n })
export const isAdmin = computed(() => session.current?.roles?.includes('enterprise_admin') ?? false)
