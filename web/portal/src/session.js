// The signed-in person of the enterprise (web/shared/session.js), kept per tab; the token's roles say whether they
// are the enterprise's portal admin.
import { computed } from 'vue'
import { createSession } from '@shared/session.js'

export const { session, signIn, signOut } = createSession('odr.portal.session')
export const isAdmin = computed(() => session.current?.roles?.includes('enterprise_admin') ?? false)
