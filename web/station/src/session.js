// The signed-in station staff member (shared/session.js); the token names the station.
import { createSession } from '../../shared/session.js'

export const { session, signIn, signOut } = createSession('odr.station.session')
