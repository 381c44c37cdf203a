// Documents: upload with a progress bar, processing status until ready, questions answered with citations.

import { api, apiList, apiStream, uploadFile } from "../api.js";
import { flash } from "../app.js";
import { badge, emptyState, formatDate, h, link, replace } from "../dom.js";
import { eventJson } from "../sse.js";

const POLL_MS = 700;
const POLL_LIMIT = 600;

function kilobytes(bytes) {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** Where a citation points: the page's text, the cited passage marked. */
export function pageHref(documentId, page, chunkId) {
  const query = new URLSearchParams({ document: documentId, page: String(page) });
  if (chunkId) query.set("passage", chunkId);
  return `/documents/page?${query}`;
}

/** One page of a document as extracted, the cited passage highlighted and scrolled to. */
export async function documentPagePage(main) {
  const params = new URLSearchParams(location.search);
  const documentId = params.get("document") ?? "";
  const page = Number(params.get("page") ?? "1");
  const cited = params.get("passage");
  const body = await api(`/api/documents/${encodeURIComponent(documentId)}/pages/${encodeURIComponent(page)}`);
  const pages = body.page_count ?? page;
  const passages = body.passages.map((p) => p.chunk_id === cited
    ? h("mark", { class: "passage is-cited", id: "cited", tabindex: -1 }, p.text)
    : h("p", { class: "passage" }, p.text));
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, body.filename), h("span", { class: "muted" }, `Page ${page} of ${pages}`)),
    h("nav", { class: "page-nav", "aria-label": "Pages" },
      link("/documents", "All documents"),
      page > 1 ? link(pageHref(documentId, page - 1), "Previous page") : null,
      page < pages ? link(pageHref(documentId, page + 1), "Next page") : null),
    h("article", { class: "card page-text" }, passages));
  const mark = main.querySelector("#cited");
  if (mark) {
    mark.scrollIntoView({ block: "center" });
    mark.focus({ preventScroll: true });
  }
}

export async function documentsPage(main) {
  const list = h("div", { class: "list", id: "document-list" });
  const askPanel = h("section", { class: "card ask-panel", id: "ask-panel" });
  const uploadBar = h("progress", { max: 1, value: 0, class: "upload-progress", hidden: true });
  const uploadText = h("span", { class: "muted" });
  const fileInput = h("input", { type: "file", name: "file", id: "file-input", accept: ".pdf,.txt,.md,.docx,application/pdf,text/plain,text/markdown", required: true });
  const timers = new Set();
  let selected = null;
  let uploading = null;

  async function refresh() {
    const { items } = await apiList("/api/documents?limit=200");
    replace(list, items.length ? items.map(row) : emptyState("No documents yet. Upload a PDF, text or Markdown file."));
    for (const d of items) if (d.status === "processing") watch(d.id);
  }

  function row(d) {
    const progress = h("progress", { max: 1, value: d.progress ?? 0, class: "doc-progress", hidden: d.status !== "processing" });
    const pages = d.page_count ? `${d.pages_processed}/${d.page_count} pages` : "";
    return h("article", { class: `row document ${selected === d.id ? "is-current" : ""}`, dataset: { documentId: d.id, status: d.status } },
      h("div", { class: "row-main" },
        h("div", { class: "row-title" }, d.filename),
        h("div", { class: "meta" }, badge(d.status), progress, h("span", {}, kilobytes(d.size_bytes)),
          pages ? h("span", {}, pages) : null, d.chunk_count ? h("span", {}, `${d.chunk_count} passages`) : null,
          h("span", {}, formatDate(d.created_at))),
        d.error ? h("div", { class: "error-text" }, d.error) : null),
      h("div", { class: "row-actions" },
        h("button", { type: "button", class: "small", disabled: d.status !== "ready", onclick: () => choose(d) }, "Ask"),
        h("button", { type: "button", class: "small danger", onclick: () => remove(d) }, "Delete")));
  }

  /** Follow a document until it is ready or failed (polling: simple, and fine for a person's page). */
  function watch(documentId) {
    if ([...timers].some((t) => t.documentId === documentId)) return;
    const timer = { documentId, polls: 0, handle: null };
    timers.add(timer);
    const tick = async () => {
      timer.polls += 1;
      try {
        const d = await api(`/api/documents/${encodeURIComponent(documentId)}`);
        const old = list.querySelector(`[data-document-id="${CSS.escape(documentId)}"]`);
        if (old) old.replaceWith(row(d));
        if (d.status !== "processing" || timer.polls >= POLL_LIMIT) {
          timers.delete(timer);
          if (d.id === uploading) replace(uploadText, d.status === "ready" ? `${d.filename} is ready: ask it a question.` : `${d.filename} failed.`);
          return;
        }
      } catch {
        timers.delete(timer);
        return;
      }
      timer.handle = setTimeout(tick, POLL_MS);
    };
    timer.handle = setTimeout(tick, POLL_MS);
  }

  async function remove(d) {
    if (!confirm(`Delete '${d.filename}'?`)) return;
    try {
      await api(`/api/documents/${encodeURIComponent(d.id)}`, { method: "DELETE" });
      if (selected === d.id) replace(askPanel, askIntro());
      await refresh();
    } catch (error) {
      flash(error.message, "error");
    }
  }

  function askIntro() {
    return [h("h2", {}, "Ask a document"), h("p", { class: "muted" }, "Choose a ready document and ask a question; the answer cites the pages it rests on.")];
  }

  function choose(d) {
    selected = d.id;
    for (const el of list.querySelectorAll(".document")) el.classList.toggle("is-current", el.dataset.documentId === d.id);
    const question = h("input", { type: "text", id: "question", required: true, maxlength: 4000, placeholder: "What does it say about…?", "aria-label": "Question" });
    const answer = h("div", { class: "answer", id: "answer", "aria-live": "polite" });
    const form = h("form", { class: "ask-form" }, question, h("button", { type: "submit" }, "Ask"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (question.value.trim()) ask(d, question.value.trim(), answer, form);
    });
    replace(askPanel, h("h2", {}, `Ask “${d.filename}”`), form, answer);
    question.focus();
  }

  async function ask(d, question, answer, form) {
    const button = form.querySelector("button");
    button.disabled = true;
    const text = h("div", { class: "answer-text is-streaming" });
    const citations = h("ol", { class: "citations" });
    replace(answer, h("div", { class: "question" }, question), text, citations);
    try {
      const events = await apiStream(`/api/documents/${encodeURIComponent(d.id)}/ask`, {
        method: "POST", body: { question, stream: true },
      });
      for await (const event of events) {
        const data = eventJson(event);
        if (event.event === "message.delta") text.append(data.delta ?? "");
        if (event.event === "message.completed") {
          replace(text, data.response ?? text.textContent);
          showCitations(citations, d, data.citations ?? []);
        }
        if (event.event === "error") answer.append(h("div", { class: "error-box" }, data.detail ?? data.error));
      }
    } catch (error) {
      answer.append(h("div", { class: "error-box" }, error.message));
    } finally {
      text.classList.remove("is-streaming");
      button.disabled = false;
    }
  }

  function showCitations(citations, d, items) {
    replace(citations, items.map((c) => h("li", { class: "citation" },
      link(pageHref(d.id, c.page, c.chunk_id), h("span", { class: "citation-page" }, `Page ${c.page}`)),
      " ", h("q", {}, c.excerpt))));
  }

  const uploadForm = h("form", { class: "card inline-form upload-form", "aria-label": "Upload" },
    h("label", { class: "field" }, h("span", { class: "label" }, "File"), fileInput),
    h("button", { type: "submit", id: "upload" }, "Upload"), uploadBar, uploadText);
  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    const button = uploadForm.querySelector("button");
    button.disabled = true;
    uploadBar.hidden = false;
    uploadBar.value = 0;
    replace(uploadText, `Uploading ${file.name}…`);
    try {
      const accepted = await uploadFile("/api/documents", file, (share) => {
        uploadBar.value = share;
        replace(uploadText, `Uploading ${file.name}… ${Math.round(share * 100)}%`);
      });
      uploadBar.value = 1;
      replace(uploadText, `${file.name} uploaded; processing…`);
      uploading = accepted.document_id ?? accepted.id;
      uploadForm.reset();
      await refresh();
      watch(uploading);
    } catch (error) {
      replace(uploadText);
      flash(error.message, "error");
    } finally {
      button.disabled = false;
      setTimeout(() => { uploadBar.hidden = true; }, 1500);
    }
  });

  replace(askPanel, askIntro());
  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Documents")), uploadForm,
    h("div", { class: "split" }, list, askPanel));
  await refresh();
  return () => { for (const t of timers) clearTimeout(t.handle); timers.clear(); };
}
