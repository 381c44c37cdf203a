// Projects: create one (with first tasks, one per line), open one to see its tasks, delete.

import { api, apiList } from "../api.js";
import { flash } from "../app.js";
import { badge, emptyState, field, formatDate, formValues, h, link, replace } from "../dom.js";

export async function projectsPage(main) {
  const list = h("div", { class: "list", id: "project-list" });
  const detail = h("div", { class: "detail" });

  async function refresh() {
    const { items } = await apiList("/api/projects?limit=200");
    replace(list, items.length ? items.map(projectRow) : emptyState("No projects yet."));
  }

  function projectRow(project) {
    return h("article", { class: "row project", dataset: { projectId: project.id } },
      h("div", { class: "row-main" },
        h("div", { class: "row-title" }, project.name),
        project.description ? h("div", { class: "muted" }, project.description) : null,
        h("div", { class: "meta" }, h("span", {}, formatDate(project.created_at)))),
      h("div", { class: "row-actions" },
        h("button", { type: "button", class: "small secondary", onclick: () => open(project) }, "Tasks"),
        h("button", { type: "button", class: "small danger", onclick: () => remove(project) }, "Delete")));
  }

  async function open(project) {
    try {
      const full = await api(`/api/projects/${encodeURIComponent(project.id)}`);
      replace(detail, h("section", { class: "card" },
        h("h2", {}, full.name),
        full.tasks.length
          ? h("ul", { class: "plain" }, full.tasks.map((t) =>
            h("li", {}, badge(t.status.replace("_", " "), t.status), " ", t.title)))
          : emptyState("No tasks in this project."),
        h("p", {}, link("/tasks", "Manage tasks"))));
    } catch (error) {
      flash(error.message, "error");
    }
  }

  async function remove(project) {
    if (!confirm(`Delete the project '${project.name}'?`)) return;
    try {
      await api(`/api/projects/${encodeURIComponent(project.id)}`, { method: "DELETE" });
      replace(detail);
      await refresh();
    } catch (error) {
      flash(error.message, "error");
    }
  }

  const form = h("form", { class: "card inline-form", "aria-label": "New project" },
    field("Name", h("input", { name: "name", required: true, maxlength: 200 })),
    field("Description", h("input", { name: "description", placeholder: "Optional" })),
    field("First tasks", h("textarea", { name: "tasks", rows: 2, placeholder: "One per line (optional)" })),
    h("button", { type: "submit" }, "Create project"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const tasks = values.tasks.split("\n").map((t) => t.trim()).filter(Boolean).map((title) => ({ title }));
    try {
      await api("/api/projects", { method: "POST", body: { name: values.name, description: values.description, tasks } });
      form.reset();
      await refresh();
    } catch (error) {
      flash(error.message, "error");
    }
  });

  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Projects")), form,
    h("div", { class: "split" }, list, detail));
  await refresh();
}
