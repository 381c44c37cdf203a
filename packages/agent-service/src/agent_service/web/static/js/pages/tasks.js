// Tasks: filter, create, complete, reopen and delete; the assistant's tasks show up here too.

import { api, apiList } from "../api.js";
import { flash } from "../app.js";
import { badge, emptyState, field, formatDate, formValues, h, replace } from "../dom.js";

const PRIORITIES = ["low", "medium", "high"];
const STATUSES = ["pending", "in_progress", "done"];

function options(values, selected, blank) {
  return [
    blank ? h("option", { value: "" }, blank) : null,
    values.map((v) => h("option", { value: v, selected: v === selected }, v.replace("_", " "))),
  ];
}

export async function tasksPage(main) {
  const list = h("div", { class: "list", id: "task-list" });
  const count = h("span", { class: "muted" });
  const filter = { status: "" };
  const projects = new Map();

  async function refresh() {
    const query = filter.status ? `?status=${encodeURIComponent(filter.status)}&limit=200` : "?limit=200";
    const { items, total } = await apiList(`/api/tasks${query}`);
    replace(count, `${total} task${total === 1 ? "" : "s"}`);
    replace(list, items.length ? items.map(taskRow) : emptyState("No tasks yet. Add one above, or ask the assistant."));
  }

  function taskRow(task) {
    const done = task.status === "done";
    const project = task.project_id ? projects.get(task.project_id) : null;
    return h("article", { class: `row task ${done ? "is-done" : ""}`, dataset: { taskId: task.id } },
      h("input", {
        type: "checkbox", checked: done, "aria-label": `Mark '${task.title}' ${done ? "not done" : "done"}`,
        onchange: () => update(task, { status: done ? "pending" : "done" }),
      }),
      h("div", { class: "row-main" },
        h("div", { class: "row-title task-title" }, task.title),
        task.description ? h("div", { class: "muted" }, task.description) : null,
        h("div", { class: "meta" },
          badge(task.priority), badge(task.status.replace("_", " "), task.status),
          project ? h("span", {}, `Project: ${project}`) : null,
          h("span", {}, formatDate(task.created_at)))),
      h("div", { class: "row-actions" },
        done ? null : h("button", { type: "button", class: "small", onclick: () => update(task, { status: "done" }) }, "Complete"),
        h("button", { type: "button", class: "small danger", onclick: () => remove(task) }, "Delete")));
  }

  async function update(task, changes) {
    try {
      await api(`/api/tasks/${encodeURIComponent(task.id)}`, { method: "PATCH", body: changes });
      await refresh();
    } catch (error) {
      flash(error.message, "error");
    }
  }

  async function remove(task) {
    if (!confirm(`Delete the task '${task.title}'?`)) return;
    try {
      await api(`/api/tasks/${encodeURIComponent(task.id)}`, { method: "DELETE" });
      await refresh();
    } catch (error) {
      flash(error.message, "error");
    }
  }

  const projectSelect = h("select", { name: "project_id" }, h("option", { value: "" }, "No project"));
  const form = h("form", { class: "card inline-form", "aria-label": "New task" },
    field("Title", h("input", { name: "title", required: true, maxlength: 200, placeholder: "What needs doing?" })),
    field("Description", h("input", { name: "description", placeholder: "Optional" })),
    field("Priority", h("select", { name: "priority" }, options(PRIORITIES, "medium"))),
    field("Project", projectSelect),
    h("button", { type: "submit" }, "Add task"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const body = { title: values.title, description: values.description, priority: values.priority };
    if (values.project_id) body.project_id = values.project_id;
    try {
      await api("/api/tasks", { method: "POST", body });
      form.reset();
      await refresh();
    } catch (error) {
      flash(error.message, "error");
    }
  });

  const statusFilter = h("select", { "aria-label": "Show", onchange: (e) => { filter.status = e.target.value; refresh(); } },
    options(STATUSES, "", "All tasks"));

  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, "Tasks"), count, h("span", { class: "spacer" }), statusFilter),
    form, list);

  const { items } = await apiList("/api/projects?limit=200");
  for (const project of items) {
    projects.set(project.id, project.name);
    projectSelect.append(h("option", { value: project.id }, project.name));
  }
  await refresh();
}
