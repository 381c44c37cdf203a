// Your account: your name, your password (the current one asked for), and signing out everywhere.

import { api, auth } from "../api.js";
import { flash, refreshUser, signOutWith } from "../app.js";
import { field, h, replace } from "../dom.js";
import { onSubmit } from "./auth.js";

export async function accountPage(main) {
  const me = await api("/api/profile");

  const nameForm = onSubmit(h("form", { class: "stack", "aria-label": "Your name" },
    field("Name", h("input", { name: "name", type: "text", autocomplete: "name", maxlength: 200, value: me.name ?? "" })),
    h("button", { type: "submit" }, "Save name")),
  async ({ name }) => {
    await api("/api/profile", { method: "PATCH", body: { name } });
    await refreshUser();
    flash("Your name is saved.", "success");
  });

  const passwordForm = onSubmit(h("form", { class: "stack", "aria-label": "Change password" },
    field("Current password", h("input", { name: "current_password", type: "password", required: true, autocomplete: "current-password" })),
    field("New password", h("input", { name: "new_password", type: "password", required: true, minlength: 8, maxlength: 128, autocomplete: "new-password" }),
      "At least 8 characters. Every other sign-in of this account ends."),
    h("button", { type: "submit" }, "Change password")),
  async ({ current_password, new_password }) => {
    await api("/api/profile", { method: "PATCH", body: { current_password, new_password } });
    // The change ended every token, this tab's too: sign this tab in again with the new password.
    auth.signOut();
    const token = await api("/api/auth/login", { method: "POST", body: { email: me.email, password: new_password, remember: true } });
    auth.signIn(token.access_token);
    passwordForm.reset();
    flash("Your password is changed. Other sign-ins have ended; this one goes on.", "success");
  });

  const everywhere = h("button", { type: "button", class: "danger" }, "Sign out everywhere");
  everywhere.addEventListener("click", async () => {
    everywhere.disabled = true;
    try {
      await auth.logout({ everywhere: true });
      signOutWith("You are signed out everywhere: every sign-in of this account has ended.");
    } catch (error) {
      everywhere.disabled = false;
      flash(error.message, "error");
    }
  });

  replace(main,
    h("h1", {}, "Your account"),
    h("p", { class: "muted" }, "Signed in as ", h("strong", {}, me.email), me.email_verified ? "" : " (not verified yet)", "."),
    h("section", { class: "card account-card" }, h("h2", {}, "Name"), nameForm),
    h("section", { class: "card account-card" }, h("h2", {}, "Password"), passwordForm),
    h("section", { class: "card account-card" }, h("h2", {}, "Sign out everywhere"),
      h("p", { class: "muted" }, "Ends every sign-in of this account: this browser, other browsers and devices, and every token a script got by signing in (it signs in again)."),
      everywhere));
}
