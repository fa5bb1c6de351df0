// The desk's calls to the gateway (shared/api.js), in its language and with its session.
import { createApi } from '@shared/api.js'
import { i18n } from './i18n.js'
import { activeSession, refresh, signedOutByServer } from './session.js'

export const { getJson, postJson, postForm, postFile, getBlobUrl, sendWithToken } =
  createApi(i18n, { activeSession, refresh, signedOutByServer })

export const STATION = '/v1/regulator/station-complaints'
