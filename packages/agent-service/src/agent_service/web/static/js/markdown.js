// Markdown from the model, rendered safely: `marked` turns it into HTML, DOMPurify turns that into
// sanitized nodes (no script, no handler, no style, no form, no image); nothing is assigned as markup.
// DOMPurify parses through its own Trusted Types policy, the only one the page's CSP allows.

import DOMPurify from "../vendor/dompurify/purify.es.js";
import { Marked } from "../vendor/marked/marked.esm.js";

const marked = new Marked({ async: false, gfm: true, breaks: true });

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select", "iframe", "svg", "math"],
  FORBID_ATTR: ["style", "id", "class"],
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "noopener noreferrer nofollow");
    node.setAttribute("target", "_blank");
  }
});

/** Sanitized nodes for a Markdown text. */
export function markdownNodes(text) {
  return DOMPurify.sanitize(marked.parse(String(text ?? "")), PURIFY);
}

/** Replace `el`'s content with `text` rendered as Markdown. */
export function renderMarkdown(el, text) {
  el.replaceChildren(markdownNodes(text));
  el.classList.add("markdown");
  return el;
}
