// The signed-in regulator (shared/session.js).
import { createSession } from '../../shared/session.js'

export const { session, signIn, signOut } = createSession('odr.console.session')
