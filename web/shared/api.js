// Calls to the gateway. Errors come back as RFC 9457 problems whose title the gateway writes in the language we
// ask for; the screen shows that title (the English `detail` is for developers and logs).
export class ApiError extends Error {
  constructor(status, title, problem) {
    super(title)
    this.status = status
    this.problem = problem
  }
}

/** The calls of one screen, signed with its session's token and asking for its i18n's language. */
export function createApi({ i18n, session, signOut }) {
  function headers(extra = {}) {
    const all = { 'Accept-Language': i18n.global.locale.value, Accept: 'application/json', ...extra }
    if (session.current) all.Authorization = `Bearer ${session.current.token}`
    return all
  }

  async function send(method, path, { query, json, form, multipart } = {}) {
    const url = new URL(path, window.location.origin)
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value)
    }
    const init = { method, headers: headers() }
    if (json !== undefined) {
      init.headers['Content-Type'] = 'application/json'
      init.body = JSON.stringify(json)
    } else if (form !== undefined) {
      init.body = new URLSearchParams(form)
    } else if (multipart !== undefined) {
      init.body = multipart
    }
    let response
    try {
      response = await fetch(url, init)
    } catch {
      throw new ApiError(0, i18n.global.t('errors.network'), null)
    }
    if (response.status === 401 && session.current) signOut()
    if (!response.ok) {
      const problem = await response.json().catch(() => null)
      throw new ApiError(response.status,
        problem?.title ?? i18n.global.t('errors.status', { status: response.status }), problem)
    }
    return response
  }

  return {
    send,
    getJson: async (path, query) => (await send('GET', path, { query })).json(),
    postJson: async (path, json, query) => (await send('POST', path, { json, query })).json(),
    putJson: async (path, json) => (await send('PUT', path, { json })).json(),
    postForm: async (path, form) => (await send('POST', path, { form })).json(),
    /** A multipart form (file uploads); the browser sets its Content-Type with the boundary. */
    postMultipart: async (path, formData) => (await send('POST', path, { multipart: formData })).json(),
    /** A file the API serves only with the token: fetched, then handed to the page as an object URL. */
    getBlobUrl: async (path) => URL.createObjectURL(await (await send('GET', path)).blob()),
  }
}
