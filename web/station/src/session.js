// The signed-in station staff member (shared/session.js); the token names the station.
import { createSession } from '@shared/session.js'
import { i18n } from './i18n.js'

export const { session, signIn, signOut, activeSession, refresh, signedOutByServer } =
  createSession('odr.station.session', { audience: 'regulator', i18n })
