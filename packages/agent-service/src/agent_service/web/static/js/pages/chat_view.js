// How a chat turn looks: message bubbles, tool-call cards with their results, approval cards.

import { emphasis, formatJson, h, replace } from "../dom.js";
import { renderMarkdown } from "../markdown.js";

/** A message: the person's words as typed, the agent's rendered from Markdown. */
function bubble(role, text) {
  const body = h("div", { class: "message-text" });
  if (role === "user") body.append(text ?? "");
  else renderMarkdown(body, text ?? "");
  return h("div", { class: `message message-${role}` },
    h("div", { class: "message-role" }, role === "user" ? "You" : "Agent"), body);
}

function parseMaybeJson(text) {
  if (typeof text !== "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const s = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const em = (text) => `*${String(text ?? "").replace(/[\\*_]/g, (c) => `\\${c}`)}*`;

/** A tool's result in a line of words, as a person would say what happened. */
export function resultWords(name, result, isError) {
  if (isError) {
    if (result?.error === "denied") return "You declined.";
    return `${name} failed: ${result?.detail ?? result?.error ?? "error"}`;
  }
  const r = result ?? {};
  switch (name) {
    case "create_task": return `Created task ${em(r.task?.title)}`;
    case "update_task": return `Updated task ${em(r.task?.title)}`;
    case "delete_task": return `Deleted task ${em(r.deleted?.title)}`;
    case "list_tasks": return `Listed ${s(r.total ?? r.tasks?.length ?? 0, "task")}`;
    case "create_project": return `Created project ${em(r.project?.name)}${r.tasks?.length ? ` with ${s(r.tasks.length, "task")}` : ""}`;
    case "delete_project": return `Deleted project ${em(r.deleted?.name)}`;
    case "search_documents": return `Searched your documents: ${s(r.results?.length ?? 0, "passage")} found`;
    case "read_document_chunk": return `Read ${em(r.chunk?.filename)}, page ${r.chunk?.page ?? "?"}`;
    default: return `Used ${name}`;
  }
}

/** A tool call on one line ("Created task *Write the report*"), its JSON behind a toggle. */
class ToolCard {
  constructor(name, args) {
    this.name = name;
    this.status = h("span", { class: "badge badge-running" }, "running…");
    this.words = h("span", { class: "tool-words" }, `Using ${name}…`);
    this.result = h("div", { class: "tool-result" });
    this.el = h("details", { class: "tool-card" },
      h("summary", {}, h("span", { class: "tool-icon", "aria-hidden": "true" }, "⚙"), " ", this.words, " ", this.status),
      h("div", { class: "tool-body" },
        h("div", { class: "label" }, "Tool"), h("code", { class: "tool-name" }, name),
        h("div", { class: "label" }, "Arguments"), h("pre", { class: "tool-arguments" }, formatJson(args ?? {})),
        this.result));
  }

  awaitApproval() {
    this.status.className = "badge badge-requires_action";
    replace(this.words, `${this.name} waits for you`);
    replace(this.status, "needs your approval");
  }

  finish(result, isError) {
    const declined = isError && result?.error === "denied";
    this.el.classList.toggle("is-error", Boolean(isError) && !declined);
    this.el.classList.toggle("is-declined", declined);
    this.status.className = `badge badge-${declined ? "declined" : isError ? "failed" : "done"}`;
    replace(this.status, declined ? "declined" : isError ? "error" : "done");
    replace(this.words, emphasis(resultWords(this.name, result, isError)));
    replace(this.result, h("div", { class: "label" }, "Result"), h("pre", { class: "tool-output" }, formatJson(result)));
  }
}

/** Past messages of a conversation, tool calls paired with their results; the cards by call id. */
export function renderHistory(log, messages) {
  const cards = new Map();
  for (const message of messages) {
    if (message.role === "user") log.append(bubble("user", message.content));
    if (message.role === "assistant") {
      if (message.content) log.append(bubble("assistant", message.content));
      for (const call of message.tool_calls ?? []) {
        const card = new ToolCard(call.name, call.arguments);
        cards.set(call.id, card);
        log.append(card.el);
      }
    }
    if (message.role === "tool") cards.get(message.tool_call_id)?.finish(parseMaybeJson(message.content), message.is_error);
  }
  log.scrollTop = log.scrollHeight;
  return cards;
}

/** One turn being streamed: what the user said, then the agent's text, tool calls and questions. */
export class TurnView {
  static active = null;

  constructor(log, { onDecide, cards = new Map() }) {
    this.log = log;
    this.onDecide = onDecide;
    this.abort = new AbortController();
    this.cards = cards;
    this.text = null;
    this.lastText = null;
    this.runId = null;
    this.lastEventId = null;
    this.ended = false;
    this.waiting = false;
    this.stopRequested = false;
    TurnView.active = this;
  }

  add(el) {
    this.log.append(el);
    this.log.scrollTop = this.log.scrollHeight;
    return el;
  }

  userMessage(text) {
    this.add(bubble("user", text));
    this.typing = this.add(h("div", { class: "typing", "aria-label": "The agent is working" }, h("span"), h("span"), h("span")));
  }

  dropTyping() {
    this.typing?.remove();
    this.typing = null;
  }

  delta(text) {
    this.dropTyping();
    if (!this.text) {
      const el = bubble("assistant", "");
      el.classList.add("is-streaming");
      this.add(el);
      this.text = el.querySelector(".message-text");
      this.text.dataset.raw = "";
      this.lastText = this.text;
    }
    const target = this.text;
    target.dataset.raw += text;
    const message = target.parentElement;
    message.dataset.deltas = String(Number(message.dataset.deltas ?? 0) + 1);
    // Rendered once a frame, however many deltas arrived in it: the text grows as it streams.
    if (!target.dataset.pending) {
      target.dataset.pending = "1";
      requestAnimationFrame(() => this.paint(target));
    }
  }

  paint(target) {
    delete target.dataset.pending;
    renderMarkdown(target, target.dataset.raw);
    this.log.scrollTop = this.log.scrollHeight;
  }

  toolCall({ id, name, arguments: args }) {
    this.dropTyping();
    this.text = null; // text after the call goes below its card
    const card = new ToolCard(name, args);
    this.cards.set(id, card);
    this.add(card.el);
  }

  toolResult({ id, name, result, is_error: isError }) {
    let card = this.cards.get(id);
    if (!card) {
      card = new ToolCard(name, {});
      this.add(card.el);
    }
    card.finish(result, isError);
  }

  requiresAction(toolCalls) {
    this.dropTyping();
    this.waiting = true;
    this.text = null;
    const decisions = new Map();
    const card = h("section", { class: "approval-card", role: "group", "aria-label": "Approval needed" },
      h("div", { class: "approval-title" }, "The agent asks before it acts:"));
    for (const call of toolCalls) {
      const id = call.id ?? call.tool_call_id;
      this.cards.get(id)?.awaitApproval();
      const reason = h("input", {
        type: "text", class: "reason", placeholder: "Reason (optional, sent on deny)", "aria-label": "Reason for denying",
      });
      const buttons = h("div", { class: "approval-actions" });
      const decide = async (approve) => {
        decisions.set(id, { tool_call_id: id, approve, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) });
        for (const b of buttons.querySelectorAll("button")) b.disabled = true;
        replace(buttons, h("span", { class: `badge badge-${approve ? "done" : "declined"}` }, approve ? "approved" : "declined"));
        if (decisions.size === toolCalls.length) {
          card.classList.add("is-decided");
          const sent = await this.onDecide([...decisions.values()]);
          if (sent === false) card.classList.remove("is-decided");
        }
      };
      buttons.append(
        h("button", { type: "button", class: "small approve", onclick: () => decide(true) }, "Approve"),
        h("button", { type: "button", class: "small danger deny", onclick: () => decide(false) }, "Deny"));
      const words = call.description ? emphasis(call.description) : [h("code", {}, call.name ?? "tool"), " wants to run."];
      card.append(h("div", { class: "approval-call" },
        h("p", { class: "approval-words" }, words),
        h("details", { class: "approval-json" }, h("summary", {}, "Details"),
          h("code", {}, call.name ?? "tool"), h("pre", {}, formatJson(call.arguments ?? {}))),
        reason, buttons));
    }
    this.add(card);
  }

  completed({ response, usage }) {
    this.ended = true;
    this.dropTyping();
    if (!this.lastText && response) this.delta(response);
    if (this.lastText) this.paint(this.lastText);
    this.lastText?.parentElement.classList.remove("is-streaming");
    if (usage?.total_tokens) this.note(`${usage.total_tokens} tokens`);
  }

  runEnded(status, detail) {
    this.dropTyping();
    if (status !== "completed") this.note(detail ? `Stopped: ${detail}` : `Run ${status}.`, "stopped");
    this.ended = true;
  }

  error(detail) {
    this.ended = true;
    this.dropTyping();
    this.add(h("div", { class: "error-box", role: "alert" }, detail));
  }

  note(text, kind = "") {
    this.add(h("div", { class: `turn-note ${kind}` }, text));
  }

  settle() {
    this.dropTyping();
    for (const el of this.log.querySelectorAll(".is-streaming")) el.classList.remove("is-streaming");
    if (!this.ended) this.note(this.stopRequested ? "Stopped." : "The answer ended early.", "stopped");
    this.ended = true;
    if (TurnView.active === this) TurnView.active = null;
  }
}
