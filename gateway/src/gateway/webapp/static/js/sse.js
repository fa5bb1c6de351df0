// Server-sent events over fetch(): EventSource cannot send the Authorization header the gateway requires.

import { activeSession } from "./api.js";

const MAX_BACKOFF_MS = 30000;

/**
 * Follow the event stream at `path` until `signal` aborts, reconnecting with backoff.
 * `onEvent(name, data)` gets each event (data is the joined data lines); `onState(connected)` the link state.
 */
export function follow(path, { signal, onEvent, onState }) {
  (async () => {
    let backoff = 1000;
    let rejected = null;
    while (!signal.aborted) {
      const current = await activeSession(rejected);
      if (!current) return;
      try {
        const response = await fetch(path, {
          headers: { Accept: "text/event-stream", Authorization: `Bearer ${current.token}` },
          cache: "no-store",
          credentials: "omit",
          signal,
        });
        // A token the stream was refused with is renewed once, at once; refused again, the session is over.
        if (response.status === 401) {
          if (rejected !== null) return;
          rejected = current.token;
          continue;
        }
        // Refused outright (gone, not ours): retrying cannot help.
        if (response.status === 403 || response.status === 404) {
          onState?.(false);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        onState?.(true);
        backoff = 1000;
        rejected = null;
        await readEvents(response.body, onEvent);
      } catch (error) {
        if (signal.aborted) return;
      }
      onState?.(false);
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  })();
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // A "\r" at the end may be the first half of "\r\n": keep it until the next chunk shows.
    const held = buffer.endsWith("\r") ? "\r" : "";
    const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
    // The last piece may be a line still arriving.
    buffer = lines.pop() + held;
    for (const line of lines) {
      if (line === "") {
        if (data.length) onEvent(name, data.join("\n"));
        name = "message";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const fieldName = colon === -1 ? line : line.slice(0, colon);
        const fieldValue = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (fieldName === "event") name = fieldValue;
        else if (fieldName === "data") data.push(fieldValue);
      }
    }
  }
}
