// Conversations: every chat, with its agent and usage; open one to continue it, or delete it.

import { api, apiList } from "../api.js";
import { flash } from "../app.js";
import { emptyState, formatDate, h, link, replace } from "../dom.js";

export async function conversationsPage(main) {
  const list = h("div", { class: "list", id: "conversation-list" });
  const count = h("span", { class: "muted" });

  async function refresh() {
    const { items, total } = await apiList("/api/conversations?limit=200");
    replace(count, `${total} conversation${total === 1 ? "" : "s"}`);
    replace(list, items.length ? items.map(row) : emptyState("No conversations yet: start one in the chat."));
  }

  function row(conversation) {
    const href = `/chat?conversation=${encodeURIComponent(conversation.id)}`;
    return h("article", { class: "row" },
      h("div", { class: "row-main" },
        h("div", { class: "row-title" }, link(href, conversation.title || "Untitled")),
        h("div", { class: "meta" },
          h("span", { class: "badge" }, conversation.agent_type),
          h("span", {}, `updated ${formatDate(conversation.updated_at)}`),
          h("span", {}, `${conversation.usage?.total_tokens ?? 0} tokens`))),
      h("div", { class: "row-actions" },
        link(href, "Open"),
        h("button", { type: "button", class: "small danger", onclick: () => remove(conversation) }, "Delete")));
  }

  async function remove(conversation) {
    if (!confirm(`Delete the conversation '${conversation.title || "Untitled"}'?`)) return;
    try {
      await api(`/api/conversations/${encodeURIComponent(conversation.id)}`, { method: "DELETE" });
      await refresh();
    } catch (error) {
      flash(error.message, "error");
    }
  }

  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Conversations"), count), list);
  await refresh();
}
