// The console's calls to the gateway (shared/api.js), in its language and with its session.
import { createApi } from '@shared/api.js'
import { i18n } from './i18n.js'
import { activeSession, refresh, signedOutByServer } from './session.js'

export { ApiError } from '@shared/api.js'
export const { getJson, postJson, putJson, postForm, postFile, sendWithToken, getBlobUrl, download } =
  createApi(i18n, { activeSession, refresh, signedOutByServer })
