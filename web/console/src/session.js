// The signed-in regulator (shared/session.js): its refresh cookie is the gateway's `regulator` one.
import { createSession } from '@shared/session.js'
import { i18n } from './i18n.js'

export const { session, signIn, signOut, activeSession, refresh, signedOutByServer } =
  createSession('odr.console.session', { audience: 'regulator', i18n })
