// The portal's calls to the gateway (web/shared/api.js): its session's token, its language.
import { createApi } from '@shared/api.js'
import { i18n } from './i18n.js'
import { activeSession, refresh, signedOutByServer } from './session.js'

export { ApiError } from '@shared/api.js'
export const { getJson, postJson, putJson, postForm, postMultipart, getBlobUrl, sendWithToken } =
  createApi(i18n, { activeSession, refresh, signedOutByServer })
