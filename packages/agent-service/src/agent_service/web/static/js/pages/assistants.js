// Assistants: make one from a form (built-in tools, an MCP server by URL, a client-side function),
// see each one's versions, and run any assistant in the background: a client-side function's call
// asks you for its output here, then the run goes on.

import { api, apiList } from "../api.js";
import { flash } from "../app.js";
import { badge, emptyState, field, formatDate, formatJson, formValues, h, replace } from "../dom.js";

const FINAL = ["completed", "failed", "cancelled", "interrupted"];
const BUILTIN_TOOLS = ["create_task", "update_task", "list_tasks", "create_project", "search_documents"];

function toolsFrom(values) {
  const tools = BUILTIN_TOOLS.filter((name) => values[`builtin_${name}`] === "on")
    .map((name) => ({ type: "builtin", name }));
  if (values.mcp_url) {
    const mcp = { type: "mcp", server_url: values.mcp_url };
    if (values.mcp_token) mcp.headers = { Authorization: `Bearer ${values.mcp_token}` };
    if (values.mcp_approval) mcp.require_approval = { always: values.mcp_approval.split(",").map((s) => s.trim()).filter(Boolean) };
    tools.push(mcp);
  }
  if (values.function_name) {
    tools.push({
      type: "function",
      name: values.function_name,
      description: values.function_description || "",
      parameters: values.function_parameters ? JSON.parse(values.function_parameters) : { type: "object", properties: {} },
    });
  }
  return tools;
}

function toolLabel(tool) {
  if (tool.type === "builtin") return tool.name;
  if (tool.type === "mcp") return `MCP ${tool.server_url}`;
  if (tool.type === "mcp_stdio") return `MCP (command) ${tool.command}`;
  return `client function ${tool.name}`;
}

export async function assistantsPage(main) {
  const list = h("div", { class: "list", id: "assistant-list" });
  const versions = h("section", { class: "card", id: "assistant-versions", hidden: true });
  const runPanel = h("section", { class: "card", id: "assistant-run" });
  const picker = h("select", { name: "assistant_id", "aria-label": "Assistant", id: "run-assistant" });

  async function refresh() {
    const { items } = await apiList("/api/assistants?limit=200");
    replace(list, items.length ? items.map(row) : emptyState("No assistants."));
    const chosen = picker.value;
    replace(picker, items.map((a) => h("option", { value: a.id, selected: a.id === chosen }, a.name)));
  }

  function row(assistant) {
    return h("article", { class: "row assistant", dataset: { assistantId: assistant.id } },
      h("div", { class: "row-main" },
        h("div", { class: "row-title" }, assistant.name),
        assistant.description ? h("div", { class: "muted" }, assistant.description) : null,
        h("div", { class: "meta" },
          assistant.builtin ? badge("built-in") : badge(`version ${assistant.version}`, "version"),
          assistant.model ? h("span", {}, assistant.model) : null,
          h("span", {}, assistant.tools.map(toolLabel).join(", ") || "no tools"))),
      h("div", { class: "row-actions" },
        h("button", { type: "button", class: "small secondary", onclick: () => showVersions(assistant) }, "Versions"),
        h("button", { type: "button", class: "small", onclick: () => { picker.value = assistant.id; runPanel.scrollIntoView(); } }, "Run")));
  }

  async function showVersions(assistant) {
    try {
      const items = await api(`/api/assistants/${encodeURIComponent(assistant.id)}/versions`);
      replace(versions,
        h("h2", {}, `Versions of ${assistant.name}`),
        items.map((v) => h("details", { class: "version", dataset: { version: v.version } },
          h("summary", {}, `Version ${v.version}`, v.created_at ? ` · ${formatDate(v.created_at)}` : ""),
          h("pre", {}, formatJson({ instructions: v.instructions, model: v.model, settings: v.settings, tools: v.tools })))));
      versions.hidden = false;
    } catch (error) {
      flash(error.message, "error");
    }
  }

  const form = h("form", { class: "card", "aria-label": "New assistant" },
    h("h2", {}, "New assistant"),
    field("Name", h("input", { name: "name", required: true, maxlength: 120 })),
    field("Instructions", h("textarea", { name: "instructions", rows: 3 })),
    field("Model", h("input", { name: "model", placeholder: "Default: the service's model" })),
    field("Temperature", h("input", { name: "temperature", type: "number", min: 0, max: 2, step: 0.1 })),
    h("fieldset", {}, h("legend", {}, "Built-in tools"),
      BUILTIN_TOOLS.map((name) => h("label", { class: "check" }, h("input", { type: "checkbox", name: `builtin_${name}` }), ` ${name}`))),
    h("fieldset", {}, h("legend", {}, "MCP server"),
      field("Server URL", h("input", { name: "mcp_url", type: "url", placeholder: "https://mcp.example.com/mcp" })),
      field("Bearer token", h("input", { name: "mcp_token", type: "password", autocomplete: "off" }), "Stored, never shown again."),
      field("Ask before", h("input", { name: "mcp_approval", placeholder: "tool names, comma separated" }))),
    h("fieldset", {}, h("legend", {}, "Client-side function"),
      field("Name", h("input", { name: "function_name", pattern: "[A-Za-z0-9_-]{1,64}" })),
      field("Description", h("input", { name: "function_description" })),
      field("Parameters (JSON schema)", h("textarea", { name: "function_parameters", rows: 3, placeholder: '{"type": "object", "properties": {"city": {"type": "string"}}}' }))),
    h("button", { type: "submit" }, "Create assistant"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    let body;
    try {
      body = { name: values.name, instructions: values.instructions, tools: toolsFrom(values) };
    } catch {
      flash("The function's parameters are not valid JSON.", "error");
      return;
    }
    if (values.model) body.model = values.model;
    if (values.temperature !== "") body.settings = { temperature: Number(values.temperature) };
    try {
      const made = await api("/api/assistants", { method: "POST", body });
      form.reset();
      flash(`Assistant '${made.name}' created (version ${made.version}).`, "success");
      await refresh();
      picker.value = made.id;
    } catch (error) {
      flash(error.message, "error");
    }
  });

  const transcript = h("div", { class: "transcript", id: "run-transcript", "aria-live": "polite" });
  const runForm = h("form", { class: "inline-form", "aria-label": "Run an assistant" },
    field("Assistant", picker),
    field("Message", h("input", { name: "message", required: true, placeholder: "Ask something" })),
    h("button", { type: "submit" }, "Run"));
  runForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { message } = formValues(runForm);
    transcript.append(h("p", { class: "user-line" }, h("strong", {}, "You: "), message));
    try {
      const run = await api("/api/runs", {
        method: "POST",
        body: { assistant_id: picker.value, input: [{ role: "user", content: message }] },
      });
      runForm.reset();
      await follow(run.id);
    } catch (error) {
      flash(error.message, "error");
    }
  });

  // Join the run until it ends; a client-side call asks for its output, then the run goes on.
  async function follow(runId) {
    for (;;) {
      const run = await api(`/api/runs/${encodeURIComponent(runId)}/wait?timeout_s=30`);
      if (FINAL.includes(run.status)) {
        transcript.append(run.status === "completed"
          ? h("p", { class: "assistant-line" }, h("strong", {}, "Assistant: "), run.output ?? "")
          : h("p", { class: "error-line" }, `The run ${run.status}: ${run.error?.detail ?? ""}`));
        return;
      }
      if (run.status === "requires_action") {
        await answer(run);
        return;
      }
    }
  }

  function answer(run) {
    const calls = run.required_action?.tool_calls ?? [];
    const approvals = run.pending_tool_calls.filter((c) => !calls.some((k) => k.id === c.id));
    const prompt = h("form", { class: "card client-tool", "aria-label": "Tool output" },
      calls.map((call) => field(`Output of ${call.name}(${formatJson(call.arguments)})`,
        h("textarea", { name: call.id, rows: 2, required: true }))),
      approvals.map((call) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: `approve_${call.id}`, checked: true }), ` Allow ${call.name}`)),
      h("button", { type: "submit" }, calls.length ? "Send output" : "Send decision"));
    transcript.append(prompt);
    return new Promise((resolve) => {
      prompt.addEventListener("submit", async (event) => {
        event.preventDefault();
        const values = formValues(prompt);
        const decisions = approvals.map((c) => ({ tool_call_id: c.id, approve: values[`approve_${c.id}`] === "on" }));
        try {
          if (calls.length) {
            const tool_outputs = calls.map((c) => ({ tool_call_id: c.id, output: values[c.id] }));
            await api(`/api/runs/${encodeURIComponent(run.id)}/tool_outputs`, { method: "POST", body: { tool_outputs, decisions } });
          } else {
            await api(`/api/runs/${encodeURIComponent(run.id)}/resume`, { method: "POST", body: { decisions } });
          }
          prompt.remove();
          transcript.append(h("p", { class: "muted" }, calls.length ? "Output sent." : "Decision sent."));
          await follow(run.id);
        } catch (error) {
          flash(error.message, "error");
        }
        resolve();
      });
    });
  }

  replace(runPanel, h("h2", {}, "Run an assistant"), runForm, transcript);
  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Assistants")), list, versions, runPanel, form);
  await refresh();
}
