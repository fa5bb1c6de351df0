// The shared stream follower (shared/sse.js), with the console's session: a lapsed token is renewed once.
import { follow as followWith } from '@shared/sse.js'
import { activeSession, refresh } from './session.js'

export function follow(path, options) {
  followWith(path, { ...options, activeSession, refresh })
}
