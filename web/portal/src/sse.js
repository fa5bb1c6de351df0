// The shared stream follower (web/shared/sse.js), signed with the portal's session.
import { follow as followWith } from '@shared/sse.js'
import { session } from './session.js'

export function follow(path, options) {
  followWith(path, { ...options, session })
}
