// The shared stream follower (web/shared/sse.js), with the portal's session. An enterprise's token is not renewed:
// a stream the gateway refuses stops.
import { follow as followWith } from '@shared/sse.js'
import { activeSession } from './session.js'

export function follow(path, options) {
  followWith(path, { ...options, activeSession, refresh: async () => null })
}
