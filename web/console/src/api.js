// The console's calls to the gateway (web/shared/api.js): its session's token, its language.
import { createApi } from '@shared/api.js'
import { i18n } from './i18n.js'
import { session, signOut } from './session.js'

export { ApiError } from '@shared/api.js'
export const { getJson, postJson, postForm, getBlobUrl } = createApi({ i18n, session, signOut })
