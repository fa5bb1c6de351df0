// Server-sent events over fetch(): EventSource cannot send the Authorization header the gateway requires.
const MAX_BACKOFF_MS = 30000

/**
 * Follows the event stream at `path` with the screen's session until `signal` aborts, reconnecting with backoff;
 * `onEvent(name)` gets the name of each event, `onState(connected)` the state of the link. `activeSession()` gives
 * the session with a token good for now, `refresh(stale)` a renewed one or null (shared/session.js).
 */
export function follow(path, { activeSession, refresh, signal, onEvent, onState }) {
  (async () => {
    let backoff = 1000
    let current = await activeSession()
    let renewed = false
    while (!signal.aborted && current) {
      try {
        const response = await fetch(path, {
          headers: { Accept: 'text/event-stream', Authorization: `Bearer ${current.token}` },
          cache: 'no-store',
          signal,
        })
        // The token lapsed while the stream was down: renew it once and reconnect at once.
        if (response.status === 401 && !renewed) {
          renewed = true
          current = await refresh(current.token)
          continue
        }
        // Refused outright (gone, not ours, signed out): retrying cannot help.
        if ([401, 403, 404].includes(response.status)) break
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`)
        onState(true)
        backoff = 1000
        renewed = false
        await readEvents(response.body, onEvent)
      } catch {
        if (signal.aborted) return
      }
      onState(false)
      await new Promise((resolve) => setTimeout(resolve, backoff))
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)
      current = await activeSession()
    }
    onState(false)
  })()
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  let name = 'message'
  let hasData = false
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    // A "\r" at the end may be the first half of "\r\n": keep it until the next chunk shows.
    const held = buffer.endsWith('\r') ? '\r' : ''
    const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/)
    // The last piece may be a line still arriving.
    buffer = lines.pop() + held
    for (const line of lines) {
      if (line === '') {
        if (hasData) onEvent(name)
        name = 'message'
        hasData = false
      } else if (line.startsWith('event:')) {
        name = line.slice(6).trim()
      } else if (line.startsWith('data:')) {
        hasData = true
      }
    }
  }
}
