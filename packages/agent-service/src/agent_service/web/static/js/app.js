// The app's shell: who is signed in, the navigation, and which page a path shows.

import { api, apiList, auth } from "./api.js";
import { h, link, replace } from "./dom.js";
import { accountPage } from "./pages/account.js";
import * as accountPages from "./pages/auth.js";
import * as adminPages from "./pages/admin.js";
import { assistantsPage } from "./pages/assistants.js";
import { chatPage } from "./pages/chat.js";
import { conversationsPage } from "./pages/conversations.js";
import { documentPagePage, documentsPage } from "./pages/documents.js";
import { projectsPage } from "./pages/projects.js";
import { tasksPage } from "./pages/tasks.js";

const PUBLIC = {
  "/login": accountPages.loginPage,
  "/register": accountPages.registerPage,
  "/forgot-password": accountPages.forgotPasswordPage,
  "/verify-email": accountPages.verifyEmailPage,
  "/reset-password": accountPages.resetPasswordPage,
};

const SIGNED_IN = {
  "/": chatPage,
  "/chat": chatPage,
  "/conversations": conversationsPage,
  "/tasks": tasksPage,
  "/projects": projectsPage,
  "/documents": documentsPage,
  "/documents/page": documentPagePage,
  "/assistants": assistantsPage,
  "/account": accountPage,
  "/admin/users": adminPages.usersPage,
  "/admin/deliveries": adminPages.deliveriesPage,
};

const NAV = [
  ["/chat", "Chat"],
  ["/conversations", "Conversations"],
  ["/tasks", "Tasks"],
  ["/projects", "Projects"],
  ["/documents", "Documents"],
  ["/assistants", "Assistants"],
];
const ADMIN_NAV = [
  ["/admin/users", "Users"],
  ["/admin/deliveries", "Deliveries"],
];

const state = { user: null, cleanup: null };

/** Show a message under the top bar; `kind` is info, success or error. */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  box.className = `flash flash-${kind}`;
  replace(box, h("span", {}, message), h("button", {
    class: "link-button", type: "button", "aria-label": "Dismiss", onclick: () => { box.hidden = true; },
  }, "×"));
  box.hidden = false;
}

function clearFlash() {
  document.getElementById("flash").hidden = true;
}

/** Go to a path of the app without reloading the page. */
export function navigate(path, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  clearFlash();
  render();
}

export function currentUser() {
  return state.user;
}

/** After a sign-in: load the profile and go to the chat. */
export async function signedIn(token) {
  auth.signIn(token);
  state.user = await api("/api/profile");
  navigate("/chat");
}

/** Load the profile again (a new name shows in the header). */
export async function refreshUser() {
  state.user = await api("/api/profile");
  renderNav();
}

/** Back to the sign-in page with a message, once this tab's token is gone. */
export function signOutWith(message) {
  signOut(message);
}

function signOut(message) {
  auth.signOut();
  state.user = null;
  navigate("/login", { replaceState: true });
  if (message) flash(message, "info");
}

/** The Sign out button: this tab's token and the browser's refresh cookie both end. */
async function signOutHere() {
  await auth.logout();
  signOut("You are signed out.");
}

function renderNav() {
  const nav = document.getElementById("nav");
  const account = document.getElementById("account");
  if (!state.user) {
    replace(nav);
    replace(account, link("/login", "Sign in"), link("/register", "Create account"));
    return;
  }
  const items = state.user.is_admin ? [...NAV, ...ADMIN_NAV] : NAV;
  const here = location.pathname === "/" ? "/chat" : location.pathname;
  replace(nav, items.map(([path, label]) => {
    const a = link(path, label);
    if (path === here) a.setAttribute("aria-current", "page");
    return a;
  }));
  replace(account,
    approvalsBadge,
    h("a", { class: "who", href: "/account", "data-link": true, title: `Your account (${state.user.email})` },
      state.user.name || state.user.email),
    h("button", { type: "button", class: "secondary small", onclick: () => signOutHere() },
      "Sign out"));
}

// The header's count of runs waiting for the person's approval; it links to the newest one.
const approvalsBadge = h("a", { id: "approvals", class: "approvals-badge", href: "/chat", "data-link": true, hidden: true });

async function refreshApprovals() {
  if (!state.user) return;
  let waiting;
  try {
    waiting = await apiList("/api/runs?status=requires_action&limit=1");
  } catch {
    return;
  }
  approvalsBadge.hidden = waiting.total === 0;
  const label = `${waiting.total} approval${waiting.total === 1 ? "" : "s"} waiting`;
  replace(approvalsBadge, h("span", { class: "count", "aria-hidden": "true" }, String(waiting.total)), h("span", { class: "approvals-label" }, label));
  approvalsBadge.setAttribute("aria-label", label);
  approvalsBadge.title = label;
  if (waiting.items.length) {
    approvalsBadge.href = `/chat?conversation=${encodeURIComponent(waiting.items[0].conversation_id)}`;
  }
}

async function render() {
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  const path = location.pathname;
  const main = document.getElementById("main");
  let page = PUBLIC[path];
  if (!page && !SIGNED_IN[path]) {
    page = notFoundPage;
  } else if (!page) {
    if (!state.user) {
      signOut();
      return;
    }
    page = SIGNED_IN[path];
    if (path.startsWith("/admin/") && !state.user.is_admin) page = notAllowedPage;
  }
  renderNav();
  refreshApprovals();
  // Each page draws into a view of its own: one left while it still loads (a Sign out, a click
  // on another link) then draws into a detached view, never over the page that replaced it.
  const view = h("div", { class: "view" });
  replace(main, view);
  main.className = `page page-${path.replace(/[^a-z]/g, "") || "chat"}`;
  try {
    const cleanup = (await page(view)) ?? null;
    if (view.isConnected) state.cleanup = cleanup;
    else if (cleanup) cleanup(); // left while loading: stop what it started (a stream, a timer)
  } catch (error) {
    if (view.isConnected) replace(view, h("div", { class: "card error-box" }, error.message));
  }
}

function notFoundPage(main) {
  replace(main, h("section", { class: "card auth-card not-found" },
    h("h1", {}, "Page not found"),
    h("p", {}, "There is no page at ", h("code", {}, location.pathname), "."),
    h("p", {}, state.user ? [link("/chat", "Go to the chat"), " · ", link("/tasks", "your tasks")]
      : [link("/login", "Sign in"), " · ", link("/register", "Create an account")])));
}

function notAllowedPage(main) {
  replace(main, h("h1", {}, "Not allowed"), h("p", {}, "This page is for administrators."));
}

/** Below 640 px the navigation and account sit behind the Menu button. */
function setUpMenu() {
  const button = document.getElementById("menu-button");
  const menu = document.getElementById("menu");
  const close = () => {
    menu.classList.remove("is-open");
    button.setAttribute("aria-expanded", "false");
  };
  button.addEventListener("click", () => {
    const open = menu.classList.toggle("is-open");
    button.setAttribute("aria-expanded", String(open));
  });
  menu.addEventListener("click", (event) => { if (event.target.closest("a, button")) close(); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.classList.contains("is-open")) {
      close();
      button.focus();
    }
  });
}

async function boot() {
  setUpMenu();
  document.addEventListener("click", (event) => {
    const a = event.target.closest("a[data-link]");
    if (!a || event.ctrlKey || event.metaKey || event.shiftKey || a.origin !== location.origin) return;
    event.preventDefault();
    navigate(a.pathname + a.search);
  });
  window.addEventListener("popstate", render);
  window.addEventListener("app:approvals-changed", () => {
    setTimeout(refreshApprovals, 300); // after the run has moved on
  });
  window.addEventListener("app:signed-out", (event) =>
    signOut(event.detail || "Your session ended; please sign in again."));
  if (await auth.restore()) {
    try {
      state.user = await api("/api/profile");
    } catch {
      auth.signOut();
    }
  }
  render();
}

boot();
