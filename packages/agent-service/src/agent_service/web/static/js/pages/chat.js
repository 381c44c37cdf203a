// Chat with any agent type: the answer streams in, tool calls and their results are shown,
// Stop cancels the run, and tools that need approval ask for it (the Runs part of DESIGN.md).

import { api, apiList, apiStream } from "../api.js";
import { flash } from "../app.js";
import { emptyState, formatDate, h, replace } from "../dom.js";
import { eventJson } from "../sse.js";
import { TurnView, renderHistory } from "./chat_view.js";

const FINAL_RUN_EVENTS = new Set(["run.completed", "run.failed", "run.cancelled", "run.interrupted"]);
const STOPPED_CODES = new Set(["run_cancelled", "run_interrupted"]);
const MAX_RECONNECTS = 3;

export async function chatPage(main) {
  const params = new URLSearchParams(location.search);
  const state = { agents: [], agentType: "assistant", conversationId: params.get("conversation"), busy: false };

  const agentSelect = h("select", { id: "agent-type", "aria-label": "Agent" });
  const agentInfo = h("p", { class: "muted agent-info" });
  const conversationList = h("ul", { class: "conversation-list" });
  const log = h("div", {
    class: "chat-log", id: "chat-log", "aria-live": "polite", role: "log", "aria-label": "Conversation", tabindex: 0,
  });
  const textarea = h("textarea", {
    id: "chat-input", rows: 2, placeholder: "Message the agent… (Enter to send, Shift+Enter for a new line)",
    "aria-label": "Message",
  });
  const sendButton = h("button", { type: "submit", id: "send" }, "Send");
  const stopButton = h("button", { type: "button", id: "stop", class: "danger", hidden: true }, "Stop");
  const composer = h("form", { class: "composer" }, textarea, h("div", { class: "composer-actions" }, stopButton, sendButton));
  const title = h("h2", { class: "chat-title" }, "New conversation");
  const banner = h("p", { class: "demo-banner", id: "demo-banner", role: "note", hidden: true },
    h("strong", {}, "Offline demo. "),
    "Answers come from simple rules over your words, not from an AI. Try “add a task to buy milk”, ",
    "“rename buy milk to buy oat milk” or “list my tasks”.");
  const editNote = h("p", { class: "edit-note", hidden: true });

  replace(main, h("div", { class: "chat-layout" },
    h("aside", { class: "chat-side card" },
      h("label", { class: "field" }, h("span", { class: "label" }, "Agent"), agentSelect), agentInfo,
      h("button", { type: "button", class: "secondary", id: "new-conversation", onclick: () => openConversation(null) },
        "New conversation"),
      h("h3", {}, "Conversations"), conversationList),
    h("section", { class: "chat-main card" }, title, banner, log, editNote, composer)));

  function describeAgent() {
    const agent = state.agents.find((a) => a.agent_type === state.agentType);
    replace(agentInfo, agent ? [agent.description, agent.tools.length ? h("br") : null,
      agent.tools.length ? `Tools: ${agent.tools.map((t) => t.name).join(", ")}` : null] : "");
  }

  async function refreshConversations() {
    const { items } = await apiList("/api/conversations?limit=50");
    replace(conversationList, items.length ? items.map((c) => h("li", {},
      h("button", {
        type: "button", class: `conversation ${c.id === state.conversationId ? "is-current" : ""}`,
        onclick: () => openConversation(c),
      }, h("span", {}, c.title || "Untitled"), h("small", {}, `${c.agent_type} · ${formatDate(c.updated_at)}`)))) :
      h("li", {}, emptyState("None yet.")));
  }

  /** The open conversation in the address bar, while this page is the one shown. */
  function showInAddress(conversationId) {
    if (!main.isConnected) return; // left (signed out, another page): the address is not ours
    history.replaceState(null, "", conversationId ? `/chat?conversation=${encodeURIComponent(conversationId)}` : "/chat");
  }

  async function openConversation(conversation, { initial = false } = {}) {
    if (initial && state.busy) {
      // The page is still loading and the person already sent a message: keep their turn.
      await refreshConversations();
      return;
    }
    leaveTurn();
    if (state.editing) stopEdit();
    state.conversationId = conversation?.id ?? null;
    showInAddress(state.conversationId);
    replace(log);
    replace(title, conversation ? (conversation.title || "Untitled") : "New conversation");
    if (conversation) {
      state.agentType = conversation.agent_type;
      agentSelect.value = conversation.agent_type;
      describeAgent();
      const historyBody = await api(`/api/conversations/${encodeURIComponent(conversation.id)}/history`);
      const cards = renderHistory(log, historyBody.messages);
      await rejoinRun(conversation.id, cards);
      offerRedo();
    } else {
      log.append(emptyState("Ask something. Try: “Add a high-priority task to write the release notes”."));
    }
    await refreshConversations();
    textarea.focus();
  }

  /** The conversation's newest run, if it still waits for approval or works: its buttons, its stream. */
  async function rejoinRun(conversationId, cards) {
    const runs = await api(`/api/conversations/${encodeURIComponent(conversationId)}/runs?limit=1`);
    const run = runs?.[0];
    if (run?.status !== "requires_action") return;
    state.busy = true;
    sendButton.disabled = true;
    const turn = new TurnView(log, { onDecide: (decisions) => resume(turn, decisions), cards });
    turn.runId = run.id;
    // Shown from the history: once resumed, the replayed events up to this pause are skipped.
    turn.skipThrough = run.pending_tool_calls.map((call) => call.id).join(",");
    turn.requiresAction(run.pending_tool_calls);
  }

  async function ensureConversation(message) {
    if (state.conversationId) return state.conversationId;
    const created = await api("/api/conversations", {
      method: "POST", body: { agent_type: state.agentType, title: message.slice(0, 80) },
    });
    state.conversationId = created.id;
    showInAddress(created.id);
    replace(title, created.title || "Untitled");
    refreshConversations().catch(() => {});
    return created.id;
  }

  async function send(message) {
    state.busy = true;
    sendButton.disabled = true;
    for (const el of log.querySelectorAll(".redo")) el.remove();
    log.querySelector(".empty")?.remove();
    const turn = new TurnView(log, { onDecide: (decisions) => resume(turn, decisions) });
    turn.userMessage(message);
    try {
      const conversationId = await ensureConversation(message);
      const events = await apiStream("/api/agent/chat/stream", {
        method: "POST", body: { message, conversation_id: conversationId }, signal: turn.abort.signal,
      });
      await follow(turn, events);
    } catch (error) {
      if (error.name !== "AbortError") turn.error(error.message);
    } finally {
      finish(turn);
    }
  }

  /** Read a run's events into the view; reconnect to the run's event stream if the network drops. */
  async function follow(turn, events) {
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const event of events) {
          handle(turn, event);
          if (turn.waiting) return; // paused for a decision: resume() follows the run on
        }
      } catch (error) {
        if (error.name === "AbortError") return;
      }
      if (turn.ended || turn.waiting || !turn.runId || attempt >= MAX_RECONNECTS) return;
      try {
        events = await runEvents(turn);
      } catch (error) {
        turn.error(`The stream broke off and could not be resumed: ${error.message}`);
        return;
      }
    }
  }

  function runEvents(turn) {
    const headers = turn.lastEventId ? { "Last-Event-ID": turn.lastEventId } : {};
    return apiStream(`/api/runs/${encodeURIComponent(turn.runId)}/events`, { headers, signal: turn.abort.signal });
  }

  function handle(turn, event) {
    if (event.id) turn.lastEventId = event.id;
    const data = eventJson(event);
    if (turn.skipThrough) {
      const ids = (data.tool_calls ?? []).map((call) => call.id).join(",");
      if (event.event === "run.requires_action" && ids === turn.skipThrough) turn.skipThrough = null;
      return;
    }
    switch (event.event) {
      case "run.created":
        turn.runId = data.run_id;
        if (data.conversation_id) state.conversationId = data.conversation_id;
        stopButton.hidden = false;
        stopButton.disabled = false;
        break;
      case "message.delta":
        turn.delta(data.delta ?? "");
        break;
      case "tool.call":
        turn.toolCall(data);
        break;
      case "tool.result":
        turn.toolResult(data);
        break;
      case "run.requires_action":
        turn.requiresAction(data.tool_calls ?? data.pending_tool_calls ?? []);
        stopButton.hidden = true;
        window.dispatchEvent(new Event("app:approvals-changed"));
        break;
      case "message.completed":
        turn.completed(data);
        break;
      case "error":
        if (STOPPED_CODES.has(data.error)) turn.runEnded("stopped", data.detail);
        else turn.error(data.detail ?? data.error ?? "The agent failed.");
        break;
      default:
        if (FINAL_RUN_EVENTS.has(event.event)) turn.runEnded(event.event.slice(4), data.detail);
    }
  }

  async function resume(turn, decisions) {
    try {
      await api(`/api/runs/${encodeURIComponent(turn.runId)}/resume`, { method: "POST", body: { decisions } });
    } catch (error) {
      flash(error.message, "error");
      return false;
    }
    window.dispatchEvent(new Event("app:approvals-changed"));
    textarea.focus(); // the buttons are gone: the keyboard goes on where the person types next
    turn.waiting = false;
    stopButton.hidden = false;
    try {
      await follow(turn, await runEvents(turn));
    } catch (error) {
      if (error.name !== "AbortError") turn.error(error.message);
    } finally {
      finish(turn);
    }
    return true;
  }

  /** Stop following the shown turn (its run goes on, stored; opening it again rejoins it). */
  function leaveTurn() {
    const turn = TurnView.active;
    if (turn) {
      turn.detached = true;
      turn.abort.abort();
      TurnView.active = null;
    }
    state.busy = false;
    sendButton.disabled = false;
    stopButton.hidden = true;
  }

  /** "Regenerate" under the last answer, "Edit" on the last message: both take the latest run
   * back (its messages and what its tools did) and send again. */
  function offerRedo() {
    for (const el of log.querySelectorAll(".redo")) el.remove();
    if (state.busy || !state.conversationId) return;
    const users = log.querySelectorAll(".message-user");
    const lastUser = users[users.length - 1];
    if (!lastUser) return;
    const said = lastUser.querySelector(".message-text").textContent;
    lastUser.append(h("div", { class: "redo redo-user" },
      h("button", { type: "button", class: "link small", onclick: () => startEdit(said) }, "Edit")));
    const answers = log.querySelectorAll(".message-assistant");
    const lastAnswer = answers[answers.length - 1];
    if (lastAnswer && lastAnswer.compareDocumentPosition(lastUser) & Node.DOCUMENT_POSITION_PRECEDING) {
      lastAnswer.append(h("div", { class: "redo" },
        h("button", { type: "button", class: "link small", onclick: () => redo(said) }, "Regenerate")));
    }
  }

  function startEdit(said) {
    state.editing = true;
    textarea.value = said;
    replace(editNote, "Editing your last message: Send replaces it and its answer. ",
      h("button", { type: "button", class: "link small", onclick: stopEdit }, "Cancel"));
    editNote.hidden = false;
    textarea.focus();
  }

  function stopEdit() {
    state.editing = false;
    editNote.hidden = true;
    textarea.value = "";
  }

  /** Take the latest run back, show the conversation without it, then send `message`. */
  async function redo(message) {
    if (state.busy) return;
    state.busy = true;
    try {
      const [run] = await api(`/api/conversations/${encodeURIComponent(state.conversationId)}/runs?limit=1`);
      if (run) await api(`/api/runs/${encodeURIComponent(run.id)}/rollback`, { method: "POST" });
      const historyBody = await api(`/api/conversations/${encodeURIComponent(state.conversationId)}/history`);
      replace(log);
      renderHistory(log, historyBody.messages);
    } catch (error) {
      state.busy = false;
      flash(error.message, "error");
      return;
    }
    state.busy = false;
    send(message);
  }

  function finish(turn) {
    if (turn.detached) return;
    stopButton.hidden = true;
    if (turn.waiting) return; // the run waits for a decision; the approval card drives it on
    turn.settle();
    state.busy = false;
    sendButton.disabled = false;
    offerRedo();
    refreshConversations().catch(() => {});
  }

  stopButton.addEventListener("click", async () => {
    const turn = TurnView.active;
    if (!turn?.runId) return;
    stopButton.disabled = true;
    turn.note("Stopping…");
    try {
      await api(`/api/runs/${encodeURIComponent(turn.runId)}/cancel`, { method: "POST" });
      turn.stopRequested = true;
      setTimeout(() => { if (!turn.ended) turn.abort.abort(); }, 5000);
    } catch (error) {
      stopButton.disabled = false;
      flash(error.message, "error");
    }
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = textarea.value.trim();
    if (!message || state.busy) return;
    textarea.value = "";
    if (state.editing) {
      stopEdit();
      redo(message);
    } else {
      send(message);
    }
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.editing) stopEdit();
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  agentSelect.addEventListener("change", () => {
    state.agentType = agentSelect.value;
    describeAgent();
    openConversation(null);
  });

  const catalogue = await api("/api/agents");
  state.agents = catalogue.items; // the catalogue is an object, not a paginated list
  banner.hidden = catalogue.model !== "demo-model";
  replace(agentSelect, state.agents.map((a) => h("option", { value: a.agent_type }, a.agent_type)));
  agentSelect.value = state.agentType;
  describeAgent();
  let current = null;
  if (state.conversationId) {
    current = await api(`/api/conversations/${encodeURIComponent(state.conversationId)}`).catch(() => null);
  }
  await openConversation(current, { initial: true });
  return () => leaveTurn();
}
