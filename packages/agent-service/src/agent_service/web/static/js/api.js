// The public HTTP API, as this app uses it: a bearer token kept in sessionStorage (never a URL),
// JSON in and out, errors as `ApiError` carrying the service's `{error, detail}`. The sign-in
// survives a new tab through an HttpOnly refresh cookie that only /api/auth/refresh reads.

import { readEvents } from "./sse.js";

const TOKEN_KEY = "agent-service.token";

export const auth = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
  /** A page opened without a token (a new tab): trade the refresh cookie for one, once. */
  async restore() {
    if (this.token) return true;
    try {
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { Accept: "application/json", ...PAGE_HEADER },
        credentials: "same-origin",
      });
      if (!response.ok) return false;
      this.signIn((await response.json()).access_token);
      return true;
    } catch {
      return false;
    }
  },
  /** Sign out here (the refresh cookie too), or `everywhere`: every sign-in of the account. */
  async logout({ everywhere = false } = {}) {
    const token = this.token;
    this.signOut();
    const headers = { Accept: "application/json", "Content-Type": "application/json", ...PAGE_HEADER };
    if (token && everywhere) headers.Authorization = `Bearer ${token}`;
    try {
      await fetch("/api/auth/logout", {
        method: "POST", headers, credentials: "same-origin", body: JSON.stringify({ everywhere }),
      });
    } catch {
      // offline: the token is gone from this tab; the cookie ends at its expiry
    }
  },
};

// The cookie routes' CSRF guard: a header a cross-site form cannot send.
const PAGE_HEADER = { "X-Requested-With": "agent-service" };

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.code = body?.error ?? "http_error";
    this.body = body;
  }
}

function describe(status, body) {
  const detail = body?.detail ?? `The server answered ${status}.`;
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  const fields = errors.map((e) => `${e.field ?? ""}: ${e.message ?? ""}`.replace(/^: /, ""));
  return fields.length ? `${detail} (${fields.join("; ")})` : detail;
}

function headersFor(extra = {}, json = false) {
  const headers = { Accept: "application/json", ...extra };
  if (json) headers["Content-Type"] = "application/json";
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  return headers;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = { error: "http_error", detail: `The server answered ${response.status}.` };
  }
  // A 401 ends this tab's sign-in, except a wrong current password on the account page: the token
  // is fine, the password typed is not.
  if (response.status === 401 && auth.token && body?.error !== "invalid_current_password") {
    auth.signOut();
    window.dispatchEvent(new CustomEvent("app:signed-out", { detail: body?.detail }));
  }
  const error = new ApiError(response.status, body);
  const retryAfter = Number(response.headers.get("Retry-After"));
  if (Number.isFinite(retryAfter) && retryAfter > 0) error.retryAfter = retryAfter;
  return error;
}

async function send(path, { method = "GET", body, headers, signal } = {}) {
  const init = { method, headers: headersFor(headers, body !== undefined), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: "network_error", detail: "The service could not be reached." });
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** A JSON request; resolves to the parsed body (null for 204/202 without one). */
export async function api(path, options = {}) {
  const response = await send(path, options);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** A list route: `{items, total}` from a JSON array and its `X-Total-Count` header. */
export async function apiList(path, options = {}) {
  const response = await send(path, options);
  const items = await response.json();
  if (!Array.isArray(items)) throw new ApiError(500, { error: "not_a_list", detail: `${path} did not answer a list.` });
  const header = response.headers.get("X-Total-Count");
  return { items, total: header !== null ? Number(header) : items.length };
}

/** An SSE route read through fetch (POST bodies and the Authorization header need it). */
export async function apiStream(path, options = {}) {
  const response = await send(path, {
    ...options,
    headers: { Accept: "text/event-stream", ...(options.headers ?? {}) },
  });
  return readEvents(response.body);
}

/** Upload a file as multipart `file`, reporting progress (fetch has no upload progress). */
export function uploadFile(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    if (auth.token) xhr.setRequestHeader("Authorization", `Bearer ${auth.token}`);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = { error: "http_error", detail: `The server answered ${xhr.status}.` };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, { error: "network_error", detail: "The upload was interrupted." })));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
