// Building the page from data: every string becomes a text node or an attribute, never markup.
// (The Content-Security-Policy requires Trusted Types: assigning a markup string throws anyway.)

/** h("p", {class: "note"}, "text", child): an element with attributes, listeners and children. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, ...children);
  return el;
}

/** Append children: nodes as they are, anything else as text. */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

/** A link handled by the app's router (no page reload). */
export function link(href, ...children) {
  return h("a", { href, "data-link": true }, ...children);
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatJson(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** A form's fields as an object of trimmed strings (files and checkboxes left to the caller). */
export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) {
    if (typeof value === "string") values[name] = value.trim();
  }
  return values;
}

/** A labelled input. */
export function field(label, input, hint) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), input,
    hint ? h("small", { class: "hint" }, hint) : null);
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${String(kind).replace(/[^a-z0-9_-]/gi, "")}` }, text);
}

export function emptyState(text) {
  return h("p", { class: "empty" }, text);
}

/** Words with Markdown emphasis (`*title*`, backslash escapes) as text and `<em>` nodes. */
export function emphasis(text) {
  const nodes = [];
  let current = "";
  let em = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
    } else if (c === "*") {
      if (em === null) {
        nodes.push(current);
        em = "";
      } else {
        nodes.push(h("em", {}, current));
        em = null;
      }
      current = "";
    } else {
      current += c;
    }
  }
  nodes.push(em === null ? current : `*${current}`);
  return nodes.filter((n) => n !== "");
}
