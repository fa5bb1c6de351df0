// Calls to the gateway. Errors come back as RFC 9457 problems whose title the gateway writes in the language we
// ask for; the screen shows that title (the English `detail` is for developers and logs).

export class ApiError extends Error {
  constructor(status, title, problem) {
    super(title)
    this.status = status
    this.problem = problem
  }
}

/** The calls of one screen: its i18n instance (language and error texts) and its session (shared/session.js). */
export function createApi(i18n, { activeSession, refresh, signedOutByServer }) {
  function headers(token) {
    const all = { 'Accept-Language': i18n.global.locale.value, Accept: 'application/json' }
    if (token) all.Authorization = `Bearer ${token}`
    return all
  }

  /** `token` replaces the session's (the setup token of a sign-in that owes a password change, say). */
  async function send(method, path, { query, json, form, body, contentType, accept, token } = {}) {
    const url = new URL(path, window.location.origin)
    for (const [name, value] of Object.entries(query ?? {})) {
      // A list is the parameter repeated (status=a&status=b).
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(name, item)
      else if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value)
    }
    const attempt = async (bearer) => {
      const init = { method, headers: headers(bearer) }
      if (json !== undefined) {
        init.headers['Content-Type'] = 'application/json'
        init.body = JSON.stringify(json)
      } else if (form !== undefined) {
        init.body = new URLSearchParams(form)
      } else if (body !== undefined) {
        // A FormData body gets its multipart Content-Type, with the boundary, from the browser.
        if (contentType) init.headers['Content-Type'] = contentType
        init.body = body
      }
      if (accept) init.headers.Accept = accept
      try {
        return await fetch(url, init)
      } catch {
        throw new ApiError(0, i18n.global.t('errors.network'), null)
      }
    }
    const current = token ? null : await activeSession()
    let response = await attempt(token ?? current?.token)
    // The token was refused before its time (a restart of the gateway with another key, say): renew it once.
    if (response.status === 401 && current) {
      const renewed = await refresh(current.token)
      if (renewed) response = await attempt(renewed.token)
      else signedOutByServer()
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => null)
      throw new ApiError(response.status,
        problem?.title ?? i18n.global.t('errors.status', { status: response.status }), problem)
    }
    return response
  }

  return {
    getJson: async (path, query) => (await send('GET', path, { query })).json(),
    postJson: async (path, json, query) => (await send('POST', path, { json, query })).json(),
    putJson: async (path, json, query) => (await send('PUT', path, { json, query })).json(),
    postForm: async (path, form) => (await send('POST', path, { form })).json(),
    /** A file as the raw body (evidence, an import's CSV or JSON), answered with JSON. */
    postFile: async (path, file, { contentType = 'application/octet-stream', query } = {}) => (await send('POST', path, {
      body: file, contentType, query })).json(),
    /** A multipart form (file uploads). */
    postMultipart: async (path, formData) => (await send('POST', path, { body: formData })).json(),
    /** A call with another token than the session's: the setup token of a sign-in that owes a password change or a
     * TOTP enrolment. `null` for 204. */
    sendWithToken: async (token, method, path, json) => {
      const response = await send(method, path, { json, token })
      return response.status === 204 ? null : response.json()
    },
    /** A file the API serves only with the token: fetched, then handed to the page as an object URL. */
    getBlobUrl: async (path) => URL.createObjectURL(await (await send('GET', path)).blob()),
    /** Saves what a GET answers as a file named by the server (Content-Disposition), else `fallbackName`. */
    download: async (path, query, fallbackName, accept) => {
      const response = await send('GET', path, { query, accept })
      const disposition = response.headers.get('Content-Disposition') ?? ''
      const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName
      const url = URL.createObjectURL(await response.blob())
      const link = document.createElement('a')
      link.href = url
      link.download = name
      link.click()
      // Revoked a moment later: revoking at once can cancel the download before the browser has read the blob.
      setTimeout(() => URL.revokeObjectURL(url), 10000)
      return name
    },
  }
}
