// Calls to the gateway. Errors come back as RFC 9457 problems whose title the gateway writes in the language we
// ask for; the screen shows that title (the English `detail` is for developers and logs).
import { i18n } from './i18n.js'
import { activeSession, refresh, signedOutByServer } from './session.js'

export class ApiError extends Error {
  constructor(status, title, problem) {
    super(title)
    this.status = status
    this.problem = problem
  }
}

function headers(current) {
  const all = { 'Accept-Language': i18n.global.locale.value, Accept: 'application/json' }
  if (current) all.Authorization = `Bearer ${current.token}`
  return all
}

async function send(method, path, { query, json } = {}) {
  const url = new URL(path, window.location.origin)
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value)
  }
  const attempt = async (current) => {
    const init = { method, headers: headers(current) }
    if (json !== undefined) {
      init.headers['Content-Type'] = 'application/json'
      init.body = JSON.stringify(json)
    }
    try {
      return await fetch(url, init)
    } catch {
      throw new ApiError(0, i18n.global.t('errors.network'), null)
    }
  }
  const current = await activeSession()
  let response = await attempt(current)
  // The token was refused before its time (a restart of the gateway with another key, say): renew it once.
  if (response.status === 401 && current) {
    const renewed = await refresh(current.token)
    if (renewed) response = await attempt(renewed)
    else signedOutByServer()
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => null)
    throw new ApiError(response.status, problem?.title ?? i18n.global.t('errors.status', { status: response.status }),
      problem)
  }
  return response
}

export async function getJson(path, query) {
  return (await send('GET', path, { query })).json()
}

export async function postJson(path, json, query) {
  return (await send('POST', path, { json, query })).json()
}

/** A file the API serves only with the token: fetched, then handed to the page as an object URL. */
export async function getBlobUrl(path) {
  const blob = await (await send('GET', path)).blob()
  return URL.createObjectURL(blob)
}
