// For administrators: the users with what each owns, and the GitHub webhook deliveries.

import { apiList } from "../api.js";
import { badge, emptyState, formatDate, h, replace } from "../dom.js";

function table(headings, rows) {
  return h("div", { class: "table-wrap card" }, h("table", {},
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows)));
}

export async function usersPage(main) {
  const { items, total } = await apiList("/api/admin/users?limit=200");
  const counts = (user) => Object.entries(user.counts ?? {}).map(([name, n]) => `${n} ${name.replaceAll("_", " ")}`).join(", ");
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, "Users"), h("span", { class: "muted" }, `${total} user${total === 1 ? "" : "s"}`)),
    items.length ? table(["Email", "Name", "Role", "Verified", "Active", "Owns", "Created"], items.map((u) =>
      h("tr", {},
        h("td", {}, u.email), h("td", {}, u.name),
        h("td", {}, u.is_admin ? badge("admin") : "user"),
        h("td", {}, u.email_verified ? badge("yes", "done") : badge("no", "pending")),
        h("td", {}, u.is_active ? "yes" : "no"),
        h("td", { class: "muted" }, counts(u)),
        h("td", {}, formatDate(u.created_at))))) : emptyState("No users."));
}

export async function deliveriesPage(main) {
  const { items, total } = await apiList("/api/integrations/github/deliveries?limit=200");
  const triage = (d) => (d.triage ? [d.triage.priority ?? "", " ", (d.triage.labels ?? []).join(", ")] : "");
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, "GitHub deliveries"), h("span", { class: "muted" }, `${total} ${total === 1 ? "delivery" : "deliveries"}`)),
    items.length ? table(["Received", "Event", "Repository", "Issue", "Status", "Attempts", "Triage", "Error"], items.map((d) =>
      h("tr", {},
        h("td", {}, formatDate(d.created_at)),
        h("td", {}, d.action ? `${d.event}.${d.action}` : d.event),
        h("td", {}, d.repository ?? ""),
        h("td", {}, d.issue_number ? `#${d.issue_number}` : ""),
        h("td", {}, badge(d.status)),
        h("td", {}, String(d.attempts)),
        h("td", {}, triage(d)),
        h("td", { class: "error-text" }, d.error ?? "")))) :
      emptyState("No webhook deliveries yet. Point a GitHub webhook at /webhooks/github."));
}
