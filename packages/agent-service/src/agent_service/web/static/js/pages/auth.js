// Account pages: sign in, create an account, and the pages the mails link to.

import { api } from "../api.js";
import { flash, navigate, signedIn } from "../app.js";
import { field, formValues, h, link, replace } from "../dom.js";

function authCard(main, title, intro, form, footer) {
  replace(main, h("section", { class: "card auth-card" },
    h("h1", {}, title), intro ? h("p", { class: "muted" }, intro) : null, form,
    footer ? h("p", { class: "auth-footer" }, footer) : null));
}

function input(name, type, props = {}) {
  return h("input", { name, type, required: true, ...props });
}

/** Wire a form: disable while sending, show the API's error sentence on failure. */
export function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await action(formValues(form));
    } catch (error) {
      flash(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** Keep a form's button off for the `seconds` the server asked to wait, counting down on it. */
function waitOn(button, seconds) {
  const label = button.textContent;
  const until = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0 || !button.isConnected) {
      button.disabled = false;
      button.textContent = label;
      return;
    }
    button.disabled = true;
    button.textContent = `${label} (wait ${left} s)`;
    setTimeout(tick, 250);
  };
  tick();
}

export function loginPage(main) {
  const resend = h("button", { type: "button", class: "link small", id: "resend-verification", hidden: true },
    "Send the verification link again");
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "stack", "aria-label": "Sign in" },
    field("Email", input("email", "email", { autocomplete: "username", autofocus: true })),
    field("Password", input("password", "password", { autocomplete: "current-password" })),
    submit, resend);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { email, password } = formValues(form);
    submit.disabled = true;
    try {
      const token = await api("/api/auth/login", { method: "POST", body: { email, password, remember: true } });
      await signedIn(token.access_token);
    } catch (error) {
      flash(error.message, "error");
      if (error.code === "email_not_verified") resend.hidden = false;
      if (error.status === 429 && error.retryAfter) return waitOn(submit, error.retryAfter);
    }
    submit.disabled = false;
  });
  resend.addEventListener("click", async () => {
    const { email } = formValues(form);
    try {
      const reply = await api("/api/auth/resend-verification", { method: "POST", body: { email } });
      flash(reply.detail, "success");
    } catch (error) {
      flash(error.message, "error");
    }
  });
  authCard(main, "Sign in", "Chat with agents, keep tasks and ask your documents.", form,
    [link("/register", "Create an account"), " · ", link("/forgot-password", "Forgot your password?")]);
}

export function registerPage(main) {
  const form = onSubmit(h("form", { class: "stack", "aria-label": "Create account" },
    field("Name", h("input", { name: "name", type: "text", autocomplete: "name" })),
    field("Email", input("email", "email", { autocomplete: "email" })),
    field("Password", input("password", "password", { autocomplete: "new-password", minlength: 8 }),
      "At least 8 characters."),
    h("button", { type: "submit" }, "Create account")),
  async ({ name, email, password }) => {
    await api("/api/auth/register", { method: "POST", body: { name, email, password } });
    navigate("/login");
    flash(`Account created. We sent a verification link to ${email}; open it, then sign in.`, "success");
  });
  authCard(main, "Create an account", null, form, ["Have one? ", link("/login", "Sign in")]);
}

export function forgotPasswordPage(main) {
  const form = onSubmit(h("form", { class: "stack", "aria-label": "Forgot password" },
    field("Email", input("email", "email", { autocomplete: "email" })),
    h("button", { type: "submit" }, "Send a reset link")),
  async ({ email }) => {
    const reply = await api("/api/auth/forgot-password", { method: "POST", body: { email } });
    flash(reply?.detail ?? "If the address has an account, a reset link is on its way.", "success");
  });
  authCard(main, "Reset your password", "We mail you a link to choose a new one.", form,
    [link("/login", "Back to sign in")]);
}

/** The mailed token, read once and then removed from the address bar and history. */
function takeToken() {
  const token = new URLSearchParams(location.search).get("token");
  if (token) history.replaceState(null, "", location.pathname);
  return token;
}

export async function verifyEmailPage(main) {
  const token = takeToken();
  const status = h("p", { class: "muted" }, "Checking your link…");
  authCard(main, "Verify your email", null, status, [link("/login", "Sign in")]);
  if (!token) {
    replace(status, "This page opens from the link in your verification mail.");
    return;
  }
  try {
    await api("/api/auth/verify-email", { method: "POST", body: { token } });
    status.className = "success-text";
    replace(status, "Your email is verified. You can sign in now.");
  } catch (error) {
    if (error.code === "email_already_verified") {
      status.className = "success-text";
      replace(status, "This address is already verified (this link was used). ",
        link("/login", "Sign in"), ".");
      return;
    }
    status.className = "error-text";
    replace(status, error.message, " ", link("/login", "Sign in to ask for a new link"), ".");
  }
}

export function resetPasswordPage(main) {
  const token = takeToken();
  if (!token) {
    authCard(main, "Choose a new password", "This page opens from the link in your reset mail.", null,
      [link("/forgot-password", "Ask for a new link")]);
    return;
  }
  const form = onSubmit(h("form", { class: "stack", "aria-label": "Choose a new password" },
    field("New password", input("new_password", "password", { autocomplete: "new-password", minlength: 8 }),
      "At least 8 characters."),
    h("button", { type: "submit" }, "Set password")),
  async ({ new_password }) => {
    await api("/api/auth/reset-password", { method: "POST", body: { token, new_password } });
    navigate("/login");
    flash("Your password is changed. Sign in with the new one.", "success");
  });
  authCard(main, "Choose a new password", null, form, [link("/login", "Back to sign in")]);
}
