// Server-sent events read from a fetch body (EventSource can neither POST nor send a bearer token).
// Follows the WHATWG parsing rules: `event:`, `data:` (joined by newlines), `id:`, comments skipped.

const LINE_END = /\r\n|\r(?!$)|\n/;

/** Yields `{event, data, id}` for each event of the stream; `data` is the raw text. */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.feed(value);
    }
    yield* parser.feed("\n\n", true);
  } finally {
    reader.cancel().catch(() => {});
  }
}

class EventParser {
  constructor() {
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.event = "";
    this.data = [];
  }

  *feed(text, final = false) {
    this.buffer += text;
    for (;;) {
      const match = LINE_END.exec(this.buffer);
      if (!match) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) yield event;
    }
    if (final && this.buffer) {
      const event = this.line(this.buffer);
      this.buffer = "";
      if (event) yield event;
    }
  }

  line(line) {
    if (line === "") {
      if (!this.data.length) {
        this.reset();
        return null;
      }
      const event = { event: this.event || "message", data: this.data.join("\n"), id: this.id };
      this.reset();
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") this.event = value;
    else if (name === "data") this.data.push(value);
    else if (name === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}

/** The event's data as JSON (an `{error, detail}` object if it is not JSON). */
export function eventJson(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return { error: "bad_event", detail: event.data };
  }
}
