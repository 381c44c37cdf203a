// Tasks: filter, create, edit in place (title, priority, due date, project), complete, reopen and
// delete; the assistant's tasks show up here too.

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

  function dueText(due) {
    const [year, month, day] = due.split("-").map(Number);
    return new Date(year, month - 1, day).toLocaleDateString(undefined, { dateStyle: "medium" });
  }

  /** The row as a form: Save sends only what changed; Escape or Cancel puts the row back. */
  function editRow(row, task) {
    const title = h("input", { name: "title", value: task.title, required: true, maxlength: 200, "aria-label": "Title" });
    const priority = h("select", { name: "priority", "aria-label": "Priority" }, options(PRIORITIES, task.priority));
    const due = h("input", { type: "date", name: "due_date", value: task.due_date ?? "", "aria-label": "Due date" });
    const project = h("select", { name: "project_id", "aria-label": "Project" },
      h("option", { value: "" }, "No project"),
      [...projects].map(([id, name]) => h("option", { value: id, selected: id === task.project_id }, name)));
    const cancel = () => row.replaceWith(taskRow(task));
    const form = h("form", { class: "task-edit", "aria-label": `Edit '${task.title}'` },
      field("Title", title), field("Priority", priority), field("Due", due), field("Project", project),
      h("div", { class: "row-actions" },
        h("button", { type: "submit", class: "small" }, "Save"),
        h("button", { type: "button", class: "small secondary", onclick: cancel }, "Cancel")));
    form.addEventListener("keydown", (event) => { if (event.key === "Escape") cancel(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const changes = {};
      if (title.value.trim() !== task.title) changes.title = title.value.trim();
      if (priority.value !== task.priority) changes.priority = priority.value;
      if ((due.value || null) !== (task.due_date ?? null)) changes.due_date = due.value || null;
      if ((project.value || null) !== (task.project_id ?? null)) changes.project_id = project.value || null;
      if (!Object.keys(changes).length) return cancel();
      await update(task, changes);
    });
    replace(row, form);
    row.classList.add("is-editing");
    title.focus();
    title.select();
  }

  function taskRow(task) {
    const done = task.status === "done";
    const project = task.project_id ? projects.get(task.project_id) : null;
    const overdue = task.due_date && !done && task.due_date < new Date().toISOString().slice(0, 10);
    const row = h("article", { class: `row task ${done ? "is-done" : ""}`, dataset: { taskId: task.id } },
      h("input", {
        type: "checkbox", checked: done, "aria-label": `Mark '${task.title}' ${done ? "not done" : "done"}`,
        onchange: () => update(task, { status: done ? "pending" : "done" }),
      }),
      h("div", { class: "row-main" },
        h("div", { class: "row-title task-title" }, task.title),
        task.description ? h("div", { class: "muted" }, task.description) : null,
        h("div", { class: "meta" },
          badge(task.priority), badge(task.status.replace("_", " "), task.status),
          task.due_date ? h("span", { class: `due ${overdue ? "is-overdue" : ""}` },
            `${overdue ? "Overdue: " : "Due "}${dueText(task.due_date)}`) : null,
          project ? h("span", {}, `Project: ${project}`) : null,
          h("span", {}, formatDate(task.created_at)))),
      h("div", { class: "row-actions" },
        done ? null : h("button", { type: "button", class: "small", onclick: () => update(task, { status: "done" }) }, "Complete"),
        h("button", {
          type: "button", class: "small secondary", "aria-label": `Edit '${task.title}'`,
          onclick: () => editRow(row, task),
        }, "Edit"),
        h("button", { type: "button", class: "small danger", onclick: () => remove(task) }, "Delete")));
    return row;
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
    field("Due", h("input", { type: "date", name: "due_date" })),
    field("Project", projectSelect),
    h("button", { type: "submit" }, "Add task"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const body = { title: values.title, description: values.description, priority: values.priority };
    if (values.project_id) body.project_id = values.project_id;
    if (values.due_date) body.due_date = values.due_date;
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
