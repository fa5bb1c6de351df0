// The signed-in regulator (web/shared/session.js), kept per tab.
import { createSession } from '@shared/session.js'

export const { session, signIn, signOut } = createSession('odr.console.session')
