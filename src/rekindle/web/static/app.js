// Rekindle's built-in page: plain ES modules, no framework, no build step.
// Talks to /api/v1 only. The short-lived bearer token lives in this page's memory only (never in
// storage or a URL); a new tab or a reload gets a fresh one from POST /auth/refresh, which reads
// the HttpOnly refresh cookie set at sign-in (scripts never see it). The live event stream is opened with a one-time
// ticket (POST /api/v1/events/ticket).

const API = "/api/v1";
const PAGE_SIZE = 24;
const POLL_MS = 3000;

const $ = (id) => document.getElementById(id);

// Test and debugging hook: what the live stream delivered, and its state.
const debug = (window.__rekindle = { events: [], live: "idle", polls: 0 });
// Tests call the API as the page does, with its token.
debug.token = () => state.token;
debug.setToken = (token) => (state.token = token);

const state = {
  token: null,
  refreshable: false, // whether a refresh cookie may exist (signed in with a password here)
  config: null,
  me: null,
  engines: null,
  photos: new Map(), // id -> summary or full photo
  order: [], // gallery ids, newest first
  cursor: null,
  more: true,
  loadingPage: false,
  galleryLoaded: false,
  current: null, // full photo shown in the photo view
  compareAttemptId: null,
  animationsAvailable: true,
  session: 0, // bumped at sign-out: answers to an earlier session's requests are dropped
  deleted: new Set(), // ids deleted here: a read that was in flight must not bring a card back
  sending: new Set(), // "restore:{id}", "animate:{id}" while that request is in flight
  compareLeftId: null, // attempt shown on the left (null: the original)
};

// ---------------------------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  constructor(status, code, message, retryAfter = null, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from a 429's or 503's Retry-After header
    this.details = details; // the error body's other fields (a 402's `required` and `balance`)
  }
}

async function api(method, path, { json, form, auth = true, retried = false, headers: extra = {} } = {}) {
  const headers = { ...extra };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form instanceof FormData ? form : new URLSearchParams(form);
  }
  if (auth && state.token) headers.Authorization = `Bearer ${state.token}`;
  let response;
  try {
    response = await fetch(API + path, { method, headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, "network_error", "The server cannot be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error;
    const code = (error && error.code) || "http_error";
    const message = (error && error.message) || `The server answered ${response.status}.`;
    if (response.status === 401 && auth && state.token) {
      // The access token expired: a refresh cookie gets a new one once, then the call is repeated.
      if (!retried && (await refreshSession())) return api(method, path, { json, form, auth, retried: true, headers: extra });
      sessionEnded();
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw new ApiError(response.status, code, message, retryAfter, error || {});
  }
  return data;
}

// One refresh at a time: parallel 401s share it. Resolves to true when a new token was stored.
let refreshing = null;
function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await fetch(`${API}/auth/refresh`, {
          method: "POST",
          headers: { "X-Rekindle-CSRF": "1" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok) return false;
        const body = await response.json();
        if (!body || !body.access_token) return false;
        state.token = body.access_token;
        state.refreshable = true;
        return true;
      } catch {
        return false;
      } finally {
        setTimeout(() => (refreshing = null), 0);
      }
    })();
  }
  return refreshing;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const STATUS_LABEL = {
  uploaded: "Uploaded",
  processing: "Restoring",
  ready: "Restored",
  pending: "Queued",
  completed: "Done",
  failed: "Failed",
  archived: "Archived",
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(status, node) {
  const target = node || el("span", { class: "badge" });
  target.dataset.status = status;
  target.textContent = STATUS_LABEL[status] || status;
  return target;
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function displayName(photo) {
  return photo.original_filename || "Untitled photograph";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function credits(n) {
  return `${n} ${n === 1 ? "credit" : "credits"}`;
}

// "Restore · 1 credit"; a free action shows its label alone.
function priced(label, price) {
  return typeof price === "number" && price > 0 ? `${label} · ${credits(price)}` : label;
}

function balance() {
  return state.me && typeof state.me.credit_balance === "number" ? state.me.credit_balance : null;
}

function prices() {
  if (state.me && state.me.prices) return state.me.prices;
  const config = (state.config && state.config.prices) || {};
  return { restore: config.restore, animation: config.animate ?? config.animation, hd: config.hd };
}

// The name a download is saved under: the original's name without its extension, plus `suffix`
// ("-restored", "-animation", "-hd") and `ext`.
function downloadName(photo, suffix, ext) {
  const base = (photo.original_filename || "photo").replace(/\.[^.]*$/, "").replace(/[\\/:*?"<>|]+/g, "_") || "photo";
  return `${base}${suffix}.${ext}`;
}

function extensionOf(url, fallback) {
  const match = (url || "").split("?")[0].match(/\.([a-z0-9]{2,4})$/i);
  return match ? match[1].toLowerCase() : fallback;
}

function timeAgo(iso) {
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

function seconds(attempt) {
  const total = attempt.params && attempt.params.timings && attempt.params.timings.total_seconds;
  return typeof total === "number" ? `${total.toFixed(1)} s` : null;
}

let toastTimer = null;
function toast(message, kind = "info") {
  const node = $("toast");
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 6000);
}

function announce(message) {
  const node = $("announcer");
  node.textContent = "";
  setTimeout(() => (node.textContent = message), 50);
}

function tokenEmail(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.email || payload.sub || "";
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------------------------
// Sign-in

async function loadConfig() {
  try {
    state.config = await api("GET", "/auth/config", { auth: false });
  } catch {
    state.config = { mode: "local", provider: "local", billing: false };
  }
}

function showSignIn(message) {
  showView(null);
  $("session-bar").hidden = true;
  $("view-signin").hidden = false;
  const local = !state.config || state.config.mode === "local";
  const signup = local && Boolean(state.config && state.config.signup_enabled);
  $("signin-form").hidden = !local;
  $("signup-form").hidden = true;
  $("signup-offer").hidden = !signup;
  $("signup-closed").hidden = signup;
  $("signin-external").hidden = local;
  const names = { auth0: "Auth0", supabase: "Supabase", jwt: "your identity provider" };
  $("provider-name").textContent = names[state.config && state.config.provider] || "your identity provider";
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
  document.title = "Sign in · Rekindle";
  if (local) $("signin-email").focus();
}

function sessionEnded() {
  if (!state.token) return;
  signOut("Your session has ended. Please sign in again.");
}

function signOut(message) {
  if (state.token && !message) {
    // Revokes the session behind the refresh cookie (and clears it); the page does not wait.
    fetch(`${API}/auth/signout`, {
      method: "POST",
      headers: { "X-Rekindle-CSRF": "1", Authorization: `Bearer ${state.token}` },
      credentials: "same-origin",
    }).catch(() => {});
  }
  state.token = null;
  state.refreshable = false;
  live.stop();
  state.photos.clear();
  state.order = [];
  state.cursor = null;
  state.more = true;
  state.galleryLoaded = false;
  state.current = null;
  state.session += 1;
  $("gallery").replaceChildren();
  $("uploads").replaceChildren();
  queue.jobs = [];
  batch.items.clear();
  renderBatch();
  resetAlbum();
  showSignIn(message);
}

function showSignUp(show) {
  $("signin-form").hidden = show;
  $("signup-form").hidden = !show;
  $("signup-done").hidden = true;
  $("signup-error").hidden = true;
  document.title = show ? "Create an account · Rekindle" : "Sign in · Rekindle";
  $(show ? "signup-email" : "signin-email").focus();
}

async function signUp(event) {
  event.preventDefault();
  const email = $("signup-email").value.trim();
  const password = $("signup-password").value;
  const error = $("signup-error");
  const done = $("signup-done");
  error.hidden = true;
  done.hidden = true;
  if (!email || !password) {
    error.textContent = "Enter your email and a password.";
    error.hidden = false;
    return;
  }
  $("signup-btn").disabled = true;
  try {
    const body = await api("POST", "/auth/signup", { json: { email, password }, auth: false });
    $("signup-password").value = "";
    if (body && body.status === "active" && body.access_token) {
      // Active at once (no email check here), and signed in (the refresh cookie is set too).
      state.refreshable = true;
      startSession(body.access_token);
      announce("Your account is ready.");
    } else if (body && body.status === "active") {
      $("signin-email").value = email;
      showSignUp(false);
      announce("Your account is ready. Sign in with your password.");
      $("signin-password").focus();
    } else {
      done.textContent = `We sent a link to ${email}. Open it to confirm your address, then sign in here.`;
      done.hidden = false;
    }
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    $("signup-btn").disabled = false;
  }
}

async function signIn(event) {
  event.preventDefault();
  const email = $("signin-email").value.trim();
  const password = $("signin-password").value;
  const error = $("signin-error");
  if (!email || !password) {
    error.textContent = "Enter your email and password.";
    error.hidden = false;
    return;
  }
  const button = event.submitter || $("signin-form").querySelector("button");
  button.disabled = true;
  try {
    const body = await api("POST", "/auth/token", {
      form: { grant_type: "password", username: email, password },
      auth: false,
    });
    state.refreshable = true;
    startSession(body.access_token);
    $("signin-password").value = "";
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

function useToken(event) {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (token) startSession(token);
}

function startSession(token) {
  state.token = token;
  $("view-signin").hidden = true;
  $("session-bar").hidden = false;
  $("who").textContent = tokenEmail(token);
  loadMe();
  live.start();
  route();
}

function billingEnabled() {
  const config = state.config || {};
  return Boolean(config.billing_enabled ?? config.billing);
}

async function loadMe() {
  try {
    state.me = await api("GET", "/me");
  } catch {
    $("credits").hidden = true; // no /me on this server yet
    return;
  }
  if (state.me.email) $("who").textContent = state.me.email;
  $("credits-count").textContent = state.me.credit_balance ?? 0;
  $("credits").hidden = state.me.credit_balance === undefined;
  $("credits").dataset.empty = String(state.me.credit_balance === 0);
  // At 0 credits there is always a next step: buying, or who to ask.
  $("buy-credits").hidden = !billingEnabled();
  $("credits-out").hidden = !(state.me.credit_balance === 0 && !billingEnabled());
  renderPrices();
}

// Every action shows what it costs (GET /me's prices, an engine's own price from /engines).
function renderPrices() {
  const price = prices();
  $("auto-restore-price").textContent = typeof price.restore === "number" && price.restore > 0 ? `(${credits(price.restore)} each)` : "";
  renderRestoreAll();
  if (state.current) renderPhoto(state.current);
}

async function buyCredits() {
  try {
    const { enabled, packs } = await api("GET", "/billing/packs");
    if (!enabled || !packs.length) {
      $("buy-credits").hidden = true;
      toast("Buying credits is not available on this server.", "error");
      return;
    }
    const choices = $("buy-packs");
    choices.replaceChildren(
      ...packs.map((pack) =>
        el("button", { type: "button", class: "btn btn-primary", onclick: () => checkout(pack.id) },
          `${pack.name}: ${pack.credits} credits`),
      ),
    );
    $("buy-dialog").showModal();
  } catch (err) {
    toast(err.message, "error");
  }
}

async function checkout(packId) {
  try {
    const body = await api("POST", "/billing/checkout", { json: { pack: packId } });
    if (body && body.url) window.location.assign(body.url);
  } catch (err) {
    toast(err.message, "error");
    if (err.code === "billing_not_configured") $("buy-credits").hidden = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Routing: #/ is the library, #/photos/{id} one photo

const VIEWS = ["view-library", "view-photo", "view-albums", "view-album"];
function showView(name) {
  for (const id of VIEWS) $(id).hidden = id !== name;
}

function route() {
  if (!state.token) return showSignIn();
  const match = location.hash.match(/^#\/photos\/([0-9a-f-]{36})$/);
  const albumMatch = location.hash.match(/^#\/albums\/([0-9a-f-]{36})$/);
  if (!albumMatch) album.id = null;
  if (match) {
    showView("view-photo");
    openPhoto(match[1]);
  } else if (albumMatch) {
    showView("view-album");
    state.current = null;
    openAlbum(albumMatch[1]);
  } else if (location.hash === "#/albums") {
    showView("view-albums");
    state.current = null;
    document.title = "Albums · Rekindle";
    loadAlbums();
  } else {
    showView("view-library");
    state.current = null;
    document.title = "Your photographs · Rekindle";
    if (!state.galleryLoaded) loadGalleryPage();
  }
}

// ---------------------------------------------------------------------------------------------
// Upload: one XHR per file so that upload.onprogress reports the bytes really sent. A drop is a
// batch: its uploads and restorations are followed to the end, then summed up.

const batch = {
  items: new Map(), // key -> { name, state: "uploading"|"uploaded"|"queued"|"restoring"|"restored"|"failed", photoId, retry }
  announced: true,
};

function batchSet(key, values) {
  const item = batch.items.get(key);
  if (!item) return;
  Object.assign(item, values);
  renderBatch();
}

function renderBatch() {
  const items = [...batch.items.values()];
  const summary = $("batch-summary");
  const failed = items.filter((i) => i.state === "failed");
  $("retry-failed").hidden = failed.length === 0;
  $("retry-failed").textContent = failed.length === 1 ? "Retry the failed one" : `Retry ${failed.length} failed`;
  if (!items.length) {
    summary.textContent = "";
    $("batch-bar").dataset.state = "idle";
    return;
  }
  const count = (name) => items.filter((i) => i.state === name).length;
  const restored = count("restored");
  const uploaded = count("uploaded");
  const busy = count("uploading") + count("queued") + count("restoring");
  const parts = [];
  if (busy) {
    const waiting = queue.waitUntil > Date.now() ? ` Waiting ${Math.ceil((queue.waitUntil - Date.now()) / 1000)} s for the server's limit…` : "";
    parts.push(`${items.length - busy} of ${items.length} done.${waiting}`);
    $("batch-bar").dataset.state = "busy";
  } else {
    const done = [];
    if (restored) done.push(`${restored} restored`);
    if (uploaded) done.push(`${uploaded} uploaded`);
    done.push(`${failed.length} failed`);
    parts.push(`${items.length} ${items.length === 1 ? "photo" : "photos"}: ${done.join(", ")}.`);
    $("batch-bar").dataset.state = failed.length ? "failed" : "done";
    if (!batch.announced) {
      batch.announced = true;
      announce(parts[0]);
    }
  }
  summary.textContent = parts.join(" ");
}

// A photo was read again (live event, poll, refresh): batch items waiting on its restoration
// follow the attempt they started.
function batchPhotoChanged(photo) {
  let changed = false;
  for (const item of batch.items.values()) {
    if (item.photoId !== photo.id || item.state !== "restoring" || !item.attemptId) continue;
    const attempt = (photo.restore_attempts || []).find((a) => a.id === item.attemptId);
    if (!attempt) continue;
    if (attempt.status === "completed") {
      item.state = "restored";
      if (item.row) {
        item.row.querySelector(".upload-message").textContent = "Restored.";
        const row = item.row;
        setTimeout(() => row.isConnected && row.dataset.state === "done" && row.remove(), 4000);
      }
      changed = true;
    } else if (attempt.status === "failed") {
      failItem(item, attempt.error ? attempt.error.message : "The restoration failed.");
      changed = true;
    }
  }
  if (changed) renderBatch();
}

function failItem(item, message) {
  item.state = "failed";
  item.message = message;
  if (item.row) {
    item.row.dataset.state = "error";
    item.row.querySelector(".upload-message").textContent = message;
    item.row.querySelector(".upload-retry").hidden = false;
  }
}

let batchKeys = 0;

async function uploadFiles(files) {
  const accepted = [...files];
  if (!accepted.length) return;
  location.hash = "#/";
  let restore = $("auto-restore").checked;
  if (restore && accepted.length > 1) {
    const choice = await confirmBatch(accepted.length, "Upload and restore");
    if (choice === "cancel") return;
    restore = choice === "restore";
  }
  startBatch();
  for (const file of accepted) uploadOne(file, restore);
  announce(`${accepted.length} ${accepted.length === 1 ? "photo" : "photos"} uploading.`);
}

// A new batch starts when the previous one has ended; otherwise the new photos join it.
function startBatch() {
  const busy = [...batch.items.values()].some((i) => ["uploading", "queued", "restoring"].includes(i.state));
  if (!busy) {
    for (const [key, item] of batch.items) {
      if (item.state !== "failed") batch.items.delete(key);
    }
  }
  batch.announced = false;
}

// The credit quote before several restorations: resolves to "restore", "upload" or "cancel".
function confirmBatch(count, confirmLabel, { uploadOnly = true } = {}) {
  const each = prices().restore;
  const total = typeof each === "number" ? each * count : null;
  const have = balance();
  const dialog = $("batch-dialog");
  $("batch-title").textContent = `Restore ${count} photos?`;
  let text = total === null ? `${count} restorations.` : `Restoring ${count} photos costs ${credits(total)}.`;
  if (have !== null) {
    text += ` You have ${credits(have)}.`;
    if (total !== null && total > have) {
      text += billingEnabled()
        ? ` The restorations beyond your balance will be refused: buy credits first, or restore fewer.`
        : ` The restorations beyond your balance will be refused: ask the operator for more credits.`;
    }
  }
  $("batch-text").textContent = text;
  $("batch-confirm").textContent = total ? `${confirmLabel} · ${credits(total)}` : confirmLabel;
  $("batch-upload-only").hidden = !uploadOnly;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue || "cancel"), { once: true });
    dialog.showModal();
  });
}

function uploadOne(file, restore, key = `u${++batchKeys}`) {
  const progress = el("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const detail = el("span", { class: "upload-detail", text: `0 of ${formatBytes(file.size)}` });
  const message = el("p", { class: "upload-message", role: "status" });
  const retry = el("button", { type: "button", class: "btn btn-small upload-retry", hidden: true }, "Retry");
  const dismiss = el("button", { type: "button", class: "btn btn-small btn-quiet upload-dismiss", "aria-label": `Dismiss ${file.name}` }, "Dismiss");
  const item = el(
    "li",
    { class: "upload", dataset: { state: "sending", key } },
    el("div", { class: "upload-row" }, el("span", { class: "upload-name", text: file.name }), detail),
    progress,
    el("div", { class: "upload-foot" }, message, el("div", { class: "upload-actions" }, retry, dismiss)),
  );
  const old = batch.items.get(key);
  if (old && old.row) old.row.replaceWith(item);
  else $("uploads").prepend(item);
  batch.items.set(key, { name: file.name, state: "uploading", photoId: null, row: item });
  renderBatch();
  dismiss.addEventListener("click", () => {
    const entry = batch.items.get(key);
    if (entry && entry.xhr && entry.state === "uploading") entry.xhr.abort();
    batch.items.delete(key);
    item.remove();
    renderBatch();
  });

  const fail = (text) => {
    item.dataset.state = "error";
    message.textContent = text;
    retry.hidden = false;
    batchSet(key, { state: "failed", message: text });
  };
  const entry = batch.items.get(key);
  entry.retry = () => uploadOne(file, restore, key);
  retry.addEventListener("click", () => {
    batch.announced = false;
    const current = batch.items.get(key);
    if (current && current.photoId) {
      // Uploaded, the restoration failed: only that is tried again.
      item.dataset.state = "done";
      retry.hidden = true;
      message.textContent = "Restoring again…";
      queueRestore(key, current.photoId, autoRestoreBody());
    } else uploadOne(file, restore, key);
  });

  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  entry.xhr = xhr;
  xhr.open("POST", `${API}/photos`);
  xhr.setRequestHeader("Authorization", `Bearer ${state.token}`);
  xhr.responseType = "json";
  xhr.upload.onprogress = (event) => {
    if (!event.lengthComputable) return;
    const percent = Math.round((event.loaded / event.total) * 100);
    progress.value = percent;
    detail.textContent = `${percent}% · ${formatBytes(Math.min(event.loaded, file.size))} of ${formatBytes(file.size)}`;
  };
  xhr.upload.onload = () => {
    progress.value = 100;
    detail.textContent = "Checking the image…";
  };
  xhr.onload = async () => {
    const body = xhr.response;
    if (xhr.status === 201 && body) {
      item.dataset.state = "done";
      detail.textContent = formatBytes(file.size);
      addToGallery(body, true);
      batchSet(key, { state: restore ? "queued" : "uploaded", photoId: body.id });
      if (restore) {
        message.textContent = "Uploaded. Waiting for its turn to restore…";
        queueRestore(key, body.id, autoRestoreBody());
      } else {
        message.textContent = "Uploaded.";
        setTimeout(() => item.isConnected && item.dataset.state === "done" && item.remove(), 4000);
      }
      return;
    }
    if (xhr.status === 401) {
      // An expired access token: get a new one and send the file again.
      if (!entry.refreshed && (await refreshSession())) {
        uploadOne(file, restore, key);
        batch.items.get(key).refreshed = true;
        return;
      }
      sessionEnded();
    }
    const error = body && body.error;
    detail.textContent = "Not uploaded";
    progress.value = 0;
    fail((error && error.message) || `Upload failed (${xhr.status || "network error"}).`);
  };
  xhr.onerror = () => fail("The upload was interrupted. Check your connection and try again.");
  xhr.send(form);
}

function autoRestoreBody() {
  // The default engine with its defaults: only options it honours are sent.
  return {};
}

// ---------------------------------------------------------------------------------------------
// The restore queue: one request at a time, so a batch stays within the server's rate limit; a
// 429's Retry-After is waited out and the same request sent again.

const queue = { jobs: [], running: false, waitUntil: 0 };

function queueRestore(key, photoId, body) {
  batchSet(key, { state: "queued", photoId });
  queue.jobs.push({ key, photoId, body, session: state.session });
  runQueue();
}

async function runQueue() {
  if (queue.running) return;
  queue.running = true;
  try {
    while (queue.jobs.length) {
      const job = queue.jobs[0];
      if (job.session !== state.session) {
        queue.jobs.shift();
        continue;
      }
      const item = batch.items.get(job.key);
      const message = item && item.row && item.row.querySelector(".upload-message");
      try {
        const attempt = await api("POST", `/photos/${job.photoId}/restore`, { json: job.body });
        queue.jobs.shift();
        if (item) {
          batchSet(job.key, { state: "restoring", attemptId: attempt && attempt.id });
          if (message) message.textContent = "Uploaded. Restoring…";
        }
        setPhotoStatus(job.photoId, "processing");
        loadMeSoon();
        // The attempt may have finished before this answer came: read the photo once.
        refreshPhoto(job.photoId);
      } catch (err) {
        if ((err.status === 429 || err.status === 503) && job.session === state.session) {
          const wait = Math.max(1, err.retryAfter || 5);
          queue.waitUntil = Date.now() + wait * 1000;
          if (message) message.textContent = `Waiting ${wait} s for its turn (the server's limit)…`;
          renderBatch();
          await sleep(wait * 1000);
          queue.waitUntil = 0;
          continue;
        }
        if (err.status === 0) {
          // Offline: wait for the connection to come back, then send it again.
          if (message) message.textContent = "Offline: waiting for the connection…";
          await waitOnline();
          continue;
        }
        queue.jobs.shift();
        if (item) failItem(item, err.message);
        else toast(err.message, "error");
        renderBatch();
        if (err.status === 402) loadMe();
      }
    }
  } finally {
    queue.running = false;
    renderBatch();
  }
}

function waitOnline() {
  if (navigator.onLine) return sleep(3000);
  return new Promise((resolve) => window.addEventListener("online", () => resolve(), { once: true }));
}

let meSoon = null;
function loadMeSoon() {
  clearTimeout(meSoon);
  meSoon = setTimeout(loadMe, 400);
}

function retryFailed() {
  batch.announced = false;
  for (const item of [...batch.items.values()]) {
    if (item.state !== "failed") continue;
    const button = item.row && item.row.querySelector(".upload-retry");
    if (button) button.click();
  }
}

// Photos in the gallery that were never restored (or whose restorations all failed).
function unrestored() {
  return state.order.map((id) => state.photos.get(id)).filter((p) => p && p.status === "uploaded");
}

function renderRestoreAll() {
  const button = $("restore-all");
  const photos = unrestored();
  button.hidden = photos.length === 0;
  const each = prices().restore;
  button.textContent = priced(`Restore all unrestored (${photos.length})`, typeof each === "number" ? each * photos.length : null);
}

async function restoreAll() {
  const photos = unrestored();
  if (!photos.length) return;
  const choice = await confirmBatch(photos.length, "Restore all", { uploadOnly: false });
  if (choice !== "restore") return;
  startBatch();
  for (const photo of photos) {
    const key = `r${++batchKeys}`;
    batch.items.set(key, { name: displayName(photo), state: "queued", photoId: photo.id, row: restoreRow(key, photo) });
    queueRestore(key, photo.id, autoRestoreBody());
  }
}

// A row in the uploads list for a photo restored from "Restore all" (it shows progress and Retry).
function restoreRow(key, photo) {
  const message = el("p", { class: "upload-message", role: "status", text: "Waiting for its turn to restore…" });
  const retry = el("button", { type: "button", class: "btn btn-small upload-retry", hidden: true }, "Retry");
  const dismiss = el("button", { type: "button", class: "btn btn-small btn-quiet upload-dismiss", "aria-label": `Dismiss ${displayName(photo)}` }, "Dismiss");
  const row = el(
    "li",
    { class: "upload", dataset: { state: "done", key } },
    el("div", { class: "upload-row" }, el("span", { class: "upload-name", text: displayName(photo) })),
    el("div", { class: "upload-foot" }, message, el("div", { class: "upload-actions" }, retry, dismiss)),
  );
  retry.addEventListener("click", () => {
    batch.announced = false;
    row.dataset.state = "done";
    retry.hidden = true;
    message.textContent = "Restoring again…";
    queueRestore(key, photo.id, autoRestoreBody());
  });
  dismiss.addEventListener("click", () => {
    batch.items.delete(key);
    row.remove();
    renderBatch();
  });
  $("uploads").prepend(row);
  return row;
}

// A drop zone with its file input: `onFiles` gets the FileList picked or dropped.
function wireDropzone(zone, input, onFiles) {
  input.addEventListener("change", () => {
    onFiles(input.files);
    input.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.dataset.over = "true";
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.dataset.over = "false";
    });
  }
  zone.addEventListener("drop", (event) => onFiles(event.dataTransfer.files));
}

function setupDropzone() {
  wireDropzone($("dropzone"), $("file-input"), uploadFiles);
  // Dropping anywhere else on the page should not navigate away to the file.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}

// ---------------------------------------------------------------------------------------------
// Gallery: newest first, endless scrolling over the cursor API

async function loadGalleryPage() {
  if (state.loadingPage || !state.more || !state.token) return;
  const session = state.session;
  state.loadingPage = true;
  $("gallery-loading").hidden = false;
  let page = null;
  try {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.cursor) query.set("cursor", state.cursor);
    page = await api("GET", `/photos?${query}`);
  } catch (err) {
    if (err.status !== 401 && session === state.session) toast(err.message, "error");
  }
  state.loadingPage = false;
  $("gallery-loading").hidden = true;
  if (session !== state.session) {
    // Signed out (and perhaps in again) meanwhile: that page was the old session's.
    if (state.token) loadGalleryPage();
    return;
  }
  if (!page) return; // the sentinel coming into view again retries
  for (const photo of page.items) addToGallery(photo, false);
  state.cursor = page.next_cursor;
  state.more = Boolean(page.next_cursor);
  state.galleryLoaded = true;
  $("gallery-empty").hidden = state.order.length > 0;
  // Keep loading while the sentinel is still on screen (tall screens, small pages).
  if (state.more && !$("view-library").hidden && sentinelVisible()) loadGalleryPage();
}

function sentinelVisible() {
  const rect = $("gallery-sentinel").getBoundingClientRect();
  return rect.top < window.innerHeight + 400;
}

function cardImage(photo) {
  // A restored photo shows its result; anything else its original's thumbnail.
  return (photo.status === "ready" && photo.restored_thumbnail_url) || photo.thumbnail_url;
}

// A photo is in the gallery when it has a card; being cached is not enough (a photo viewed
// before the gallery loaded is cached but has no card).
const inGallery = (id) => Boolean($(`card-${id}`));

function addToGallery(photo, atTop) {
  const known = inGallery(photo.id);
  if (state.deleted.has(photo.id)) return;
  state.photos.set(photo.id, { ...(state.photos.get(photo.id) || {}), ...photo });
  if (known) return renderCard(photo.id);
  if (atTop) state.order.unshift(photo.id);
  else state.order.push(photo.id);
  const card = buildCard(photo);
  if (atTop) $("gallery").prepend(card);
  else $("gallery").append(card);
  $("gallery-empty").hidden = true;
  renderRestoreAll();
}

function buildCard(photo) {
  const img = el("img", { alt: "", loading: "lazy", decoding: "async" });
  const status = badge(photo.status);
  const link = el(
    "a",
    { href: `#/photos/${photo.id}`, class: "card-link" },
    el("div", { class: "card-media" }, img, el("span", { class: "card-shimmer", "aria-hidden": "true" })),
    el(
      "div",
      { class: "card-body" },
      el("span", { class: "card-name" }),
      el("span", { class: "card-meta" }),
    ),
  );
  const card = el("li", { class: "card", id: `card-${photo.id}`, dataset: { photoId: photo.id } }, link, status);
  fillCard(card, photo);
  return card;
}

function fillCard(card, photo) {
  const img = card.querySelector("img");
  const src = cardImage(photo);
  if (src && img.dataset.src !== src) {
    img.dataset.src = src;
    img.src = src;
  }
  card.dataset.status = photo.status;
  card.querySelector(".card-name").textContent = displayName(photo);
  card.querySelector(".card-meta").textContent = `${photo.width}×${photo.height} · ${timeAgo(photo.created_at)}`;
  card.querySelector(".card-link").setAttribute(
    "aria-label",
    `${displayName(photo)}, ${STATUS_LABEL[photo.status] || photo.status}`,
  );
  badge(photo.status, card.querySelector(".badge"));
}

function renderCard(id) {
  const card = $(`card-${id}`);
  const photo = state.photos.get(id);
  if (card && photo) fillCard(card, photo);
}

function setPhotoStatus(id, status) {
  const photo = state.photos.get(id);
  if (!photo) return;
  photo.status = status;
  renderCard(id);
  renderRestoreAll();
  if (state.current && state.current.id === id) {
    state.current.status = status;
    badge(status, $("photo-status"));
  }
}

function removeFromGallery(id) {
  state.deleted.add(id);
  state.photos.delete(id);
  state.order = state.order.filter((other) => other !== id);
  const card = $(`card-${id}`);
  if (card) card.remove();
  $("gallery-empty").hidden = state.order.length > 0 || !state.galleryLoaded;
}

// ---------------------------------------------------------------------------------------------
// Keeping photos fresh: the live stream first, polling while it is down

const refreshes = new Map(); // id -> { seq, promise } of the newest refreshPhoto(id)

// Fetches the photo and re-renders what shows it; resolves to the photo, null when it is gone
// (404), or undefined when it could not be read (network, 5xx, signed out). Overlapping refreshes
// of one photo all resolve to the newest one's answer: an older one never renders stale data, and
// its caller never takes "superseded" for "gone".
function refreshPhoto(id) {
  const seq = (refreshes.get(id)?.seq || 0) + 1;
  const promise = fetchAndRenderPhoto(id, seq);
  refreshes.set(id, { seq, promise });
  return promise;
}

async function fetchAndRenderPhoto(id, seq) {
  const newer = () => (refreshes.get(id).seq !== seq ? refreshes.get(id).promise : null);
  let photo;
  try {
    photo = await api("GET", `/photos/${id}`);
  } catch (err) {
    if (newer()) return newer();
    if (err.status !== 404) return undefined;
    removeFromGallery(id);
    if (state.current && state.current.id === id) location.hash = "#/";
    return null;
  }
  if (newer()) return newer();
  if (state.deleted.has(id)) return null;
  const before = state.photos.get(id);
  state.photos.set(id, photo);
  if (state.galleryLoaded && !inGallery(id)) addToGallery(photo, true);
  renderCard(id);
  if (before && before.status === "processing" && photo.status !== "processing") {
    const latest = photo.restore_attempts && photo.restore_attempts[0];
    if (latest && latest.status === "failed") announce(`${displayName(photo)}: ${latest.error ? latest.error.message : "restoration failed"}.`);
    else if (photo.status === "ready") announce(`${displayName(photo)} is restored.`);
  }
  if (state.current && state.current.id === id) renderPhoto(photo);
  batchPhotoChanged(photo);
  renderRestoreAll();
  return photo;
}

// The first gallery page, merged in: new photos and changes made elsewhere (another tab, the API)
// show up while the stream is down.
async function refreshNewest() {
  if (!state.galleryLoaded) return;
  let page;
  try {
    page = await api("GET", `/photos?limit=${PAGE_SIZE}`);
  } catch {
    return;
  }
  for (const photo of [...page.items].reverse()) {
    if (!inGallery(photo.id)) {
      addToGallery(photo, true);
      continue;
    }
    const known = state.photos.get(photo.id);
    if (known.status !== photo.status || known.selected_restore_id !== photo.selected_restore_id) {
      refreshPhoto(photo.id);
    }
  }
}

function inFlightIds() {
  const ids = new Set();
  for (const [id, photo] of state.photos) if (photo.status === "processing") ids.add(id);
  if (state.current) {
    const animating = (state.current.animation_attempts || []).some(
      (a) => a.status === "pending" || a.status === "processing" || a.hd_status === "pending" || a.hd_status === "processing",
    );
    if (state.current.status === "processing" || animating) ids.add(state.current.id);
  }
  return [...ids];
}

class Live {
  constructor() {
    this.source = null;
    this.lastEventId = null;
    this.retryMs = 1000;
    this.reconnectTimer = null;
    this.pollTimer = null;
    this.stopped = true;
    this.generation = 0; // bumped by stop(): a connect() begun before it ends when it resumes
  }

  setState(name) {
    debug.live = name;
    const node = $("live-indicator");
    node.dataset.state = name;
    const text = { live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting…", polling: "Checking…" };
    node.querySelector(".live-text").textContent = text[name] || name;
    node.title = name === "live" ? "Status updates arrive as they happen" : "Live updates paused: checking every few seconds";
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.reconnectTimer);
    this.stopPolling();
    if (this.source) this.source.close();
    this.source = null;
    this.lastEventId = null;
  }

  async connect() {
    if (this.stopped) return;
    const generation = this.generation;
    this.setState(this.lastEventId ? "reconnecting" : "connecting");
    let ticket;
    try {
      ticket = (await api("POST", "/events/ticket")).ticket;
    } catch {
      if (generation === this.generation) this.dropped();
      return;
    }
    if (this.stopped || generation !== this.generation) return;
    const query = new URLSearchParams({ ticket });
    if (this.lastEventId) query.set("last_event_id", this.lastEventId);
    const source = new EventSource(`${API}/events?${query}`);
    this.source = source;
    source.addEventListener("ready", (event) => {
      const resumed = Boolean(this.lastEventId);
      if (!this.lastEventId) this.lastEventId = event.lastEventId;
      this.retryMs = 1000;
      this.setState("live");
      this.stopPolling();
      // Whatever happened before the stream was up is fetched once, so nothing shown is stale.
      for (const id of inFlightIds()) refreshPhoto(id);
      if (resumed) refreshNewest();
      if (album.id) loadAlbumSoon();
    });
    source.addEventListener("attempt", (event) => {
      this.lastEventId = event.lastEventId;
      const data = JSON.parse(event.data);
      debug.events.push(data);
      onAttemptEvent(data);
    });
    source.addEventListener("batch", (event) => {
      this.lastEventId = event.lastEventId;
      const data = JSON.parse(event.data);
      debug.events.push(data);
      onBatchEvent(data);
    });
    source.onerror = () => {
      // The ticket was spent: the browser's own reconnect would be refused. Reconnect with a new
      // ticket and the last event id instead, polling meanwhile.
      if (this.source !== source) return;
      source.close();
      this.source = null;
      this.dropped();
    };
  }

  dropped() {
    if (this.stopped) return;
    this.setState("polling");
    this.startPolling();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 30000);
  }

  startPolling() {
    if (this.pollTimer) return;
    const tick = () => {
      debug.polls += 1;
      for (const id of inFlightIds()) refreshPhoto(id);
      refreshNewest();
      if (album.id && album.batch && !album.batch.done) loadAlbumSoon();
    };
    tick();
    this.pollTimer = setInterval(tick, POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}

const live = new Live();
// Debugging and tests: drop the stream as a network failure would.
debug.drop = () => {
  if (live.source) live.source.close();
  live.source = null;
  live.dropped();
};

let meTimer = null;
function onAttemptEvent(data) {
  // Attempts are charged when accepted and refunded when they fail: the balance follows them.
  clearTimeout(meTimer);
  meTimer = setTimeout(loadMe, 300);
  if (data.photo_status) setPhotoStatus(data.photo_id, data.photo_status);
  if (album.photos.has(data.photo_id)) loadAlbumSoon();
  // The event says what changed; the photo itself (URLs, attempts) is fetched fresh.
  if (state.photos.has(data.photo_id) || (state.current && state.current.id === data.photo_id) || state.galleryLoaded) {
    refreshPhoto(data.photo_id);
  }
}

// ---------------------------------------------------------------------------------------------
// Photo view

async function openPhoto(id) {
  if (!state.current || state.current.id !== id) {
    state.current = null; // until this one is here, nothing renders or acts on the previous one
    state.compareAttemptId = null;
    state.compareLeftId = null;
    $("photo-title").textContent = "Loading…";
    $("attempts").replaceChildren();
    $("share-panel").hidden = true;
    resetCompare();
    brush.reset();
  }
  loadEngines();
  const photo = await refreshPhoto(id);
  if (!location.hash.endsWith(id)) return; // the person went elsewhere meanwhile
  if (photo === undefined) {
    if (state.token) {
      $("photo-title").textContent = "This photograph could not be loaded.";
      toast("This photograph could not be loaded. It opens by itself when the connection is back.", "error");
      retryWhenOnline(id);
    }
    return;
  }
  if (!photo) {
    toast("That photograph is not here any more.", "error");
    location.hash = "#/";
    return;
  }
  state.current = photo;
  renderPhoto(photo);
  $("main").focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

// A photo that could not be read (offline, server down) is read again when the browser is back
// online, or every few seconds, while the person stays on it.
let retryTimer = null;
function retryWhenOnline(id) {
  clearTimeout(retryTimer);
  const again = () => {
    window.removeEventListener("online", again);
    clearTimeout(retryTimer);
    if (location.hash.endsWith(id) && !state.current) openPhoto(id);
  };
  window.addEventListener("online", again, { once: true });
  retryTimer = setTimeout(again, 5000);
}

// What GET /engines says about each engine. Older servers answer {default, engines: [names]}
// without options: then classic is known to honour denoise (and the mask once it does), and
// other engines are assumed to honour every option.
const ALL_OPTIONS = ["denoise", "colorize", "prompt", "seed", "mask"];

function normalizeEngines(body) {
  if (Array.isArray(body)) {
    const restore = body.filter((e) => !e.kind || e.kind === "restore");
    const fallback = restore.find((e) => e.default) || restore[0];
    return { default: fallback ? fallback.name : "classic", list: restore, animate: body.filter((e) => e.kind === "animate") };
  }
  const names = (body && body.engines) || ["classic"];
  const list = names.map((name) => (typeof name === "string" ? { name, options: name === "classic" ? ["denoise"] : ALL_OPTIONS.filter((o) => o !== "mask") } : name));
  return { default: (body && body.default) || list[0].name, list, animate: [] };
}

async function loadEngines() {
  if (state.engines) return;
  try {
    state.engines = normalizeEngines(await api("GET", "/engines"));
  } catch {
    state.engines = normalizeEngines(null);
  }
  for (const [id, render] of [["restore-engine", renderEngineOptions], ["album-engine", renderAlbumOptions]]) {
    const select = $(id);
    select.replaceChildren(
      ...state.engines.list.map((engine) =>
        el("option", { value: engine.name, selected: engine.name === state.engines.default }, engineLabel(engine.name)),
      ),
    );
    select.addEventListener("change", render);
    render();
  }
}

function currentEngine(selectId = "restore-engine") {
  if (!state.engines) return null;
  const name = $(selectId).value || state.engines.default;
  return state.engines.list.find((e) => e.name === name) || state.engines.list[0] || null;
}

// Only the options the chosen engine honours are offered; nothing else is sent.
function renderEngineOptions() {
  const engine = currentEngine();
  const options = new Set((engine && engine.options) || []);
  $("restore-denoise").closest(".field").hidden = !options.has("denoise");
  $("colorize-field").hidden = !options.has("colorize");
  $("prompt-field").hidden = !options.has("prompt");
  $("seed-field").hidden = !options.has("seed");
  $("brush-field").hidden = !options.has("mask");
  if (!options.has("mask")) brush.stop();
  if (state.current) renderRestoreButton(state.current);
}

function restorePrice() {
  const engine = currentEngine();
  if (engine && typeof engine.price === "number") return engine.price;
  return prices().restore;
}

function engineLabel(name) {
  return (
    { classic: "Classic (on this server)", siliconflow: "SiliconFlow · Qwen Image Edit", comfyui: "ComfyUI", runpod: "RunPod" }[name] ||
    name
  );
}

function attemptById(photo, id) {
  return (photo.restore_attempts || []).find((a) => a.id === id && a.status === "completed") || null;
}

function selectedAttempt(photo) {
  const attempts = photo.restore_attempts || [];
  const wanted = state.compareAttemptId || photo.selected_restore_id;
  return attemptById(photo, wanted) || attempts.find((a) => a.status === "completed") || null;
}

function attemptNumber(photo, attempt) {
  const attempts = photo.restore_attempts || [];
  return attempts.length - attempts.indexOf(attempt);
}

// The browser-viewable original: the display copy (JPEG, EXIF-oriented) when the server made one,
// which is what a HEIC or TIFF original needs.
function originalView(photo) {
  if (photo.original_display_url) return photo.original_display_url;
  // An older server (no display copies) or a photo from before them: the original itself when a
  // browser can show it, else its thumbnail.
  if ("original_display_url" in photo && !/\.(jpe?g|png|webp)(\?|$)/i.test(photo.original_url)) return photo.thumbnail_url;
  return photo.original_url;
}

function renderPhoto(photo) {
  state.current = photo;
  document.title = `${displayName(photo)} · Rekindle`;
  $("photo-title").textContent = displayName(photo);
  badge(photo.status, $("photo-status"));

  // Comparison: the left side is the original or an attempt, the right side an attempt.
  const attempt = selectedAttempt(photo);
  const left = state.compareLeftId ? attemptById(photo, state.compareLeftId) : null;
  if (state.compareLeftId && !left) state.compareLeftId = null;
  const compare = $("compare");
  setImage($("compare-before"), left ? left.result_url : originalView(photo));
  $("compare-before").alt = left ? `Attempt ${attemptNumber(photo, left)}` : "The original photograph";
  compare.querySelector(".compare-tag-before").textContent = left ? `Attempt ${attemptNumber(photo, left)}` : "Before";
  if (attempt && attempt.result_url && !brush.active) {
    setImage($("compare-after"), attempt.result_url);
    $("compare-after").alt = `The restored photograph, attempt ${attemptNumber(photo, attempt)}`;
    compare.querySelector(".compare-tag-after").textContent = left ? `Attempt ${attemptNumber(photo, attempt)}` : "After";
    compare.dataset.mode = "compare";
    const what = `${left ? `Attempt ${attemptNumber(photo, left)}` : "Before"} and attempt ${attemptNumber(photo, attempt)}: ${engineLabel(attempt.engine)}, denoise ${denoiseOf(attempt)}.`;
    const how = compare.dataset.layout === "side" ? "" : matchMedia("(pointer: coarse)").matches ? " Drag sideways to compare; pinch or double-tap to zoom." : " Drag the handle, or focus it and use the arrow keys.";
    $("compare-caption").textContent = what + how;
  } else if (brush.active) {
    compare.dataset.mode = "paint";
    $("compare-caption").textContent = "Paint over the damage. The marked areas are sent with the next restoration.";
  } else {
    if (attempt && attempt.result_url) setImage($("compare-after"), attempt.result_url);
    compare.dataset.mode = "original";
    $("compare-caption").textContent = "The original. The restoration appears here when it is ready.";
  }
  renderComparePickers(photo, attempt);
  sizeFrame(photo);
  const working = photo.status === "processing";
  $("compare-working").hidden = !working;
  const running = (photo.restore_attempts || []).find((a) => a.status === "pending" || a.status === "processing");
  $("compare-working-text").textContent = running && running.status === "pending" ? "Queued…" : "Restoring…";

  // Downloads, under the original's name
  const original = $("download-original");
  original.href = photo.original_url;
  original.download = photo.original_filename || "";
  const result = $("download-result");
  result.hidden = !(attempt && attempt.result_url);
  if (attempt && attempt.result_url) {
    result.href = attempt.result_url;
    result.download = downloadName(photo, "-restored", extensionOf(attempt.result_url, "jpg"));
  }
  $("share-btn").hidden = !(photo.selected_restore_id && attempt);

  renderRestoreButton(photo);
  renderAttempts(photo);
  renderAnimation(photo);
}

function renderRestoreButton(photo) {
  const working = photo.status === "processing";
  const button = $("restore-btn");
  button.disabled = working || state.sending.has(`restore:${photo.id}`);
  button.textContent = working ? "Restoring…" : priced(brush.strokes.length ? "Restore marked damage" : "Restore", restorePrice());
  const hasChoice = Boolean(photo.selected_restore_id);
  $("restore-choose").closest("label").hidden = !hasChoice;
}

// "Left" and "Right" pick any two results (or the original on the left).
function renderComparePickers(photo, shown) {
  const done = (photo.restore_attempts || []).filter((a) => a.status === "completed");
  $("compare-pick").hidden = done.length < 2;
  if (done.length < 2) return;
  const label = (a) => `Attempt ${attemptNumber(photo, a)}${a.id === photo.selected_restore_id ? " (chosen)" : ""}`;
  $("compare-left").replaceChildren(
    el("option", { value: "", selected: !state.compareLeftId }, "Original"),
    ...done.map((a) => el("option", { value: a.id, selected: a.id === state.compareLeftId }, label(a))),
  );
  $("compare-right").replaceChildren(...done.map((a) => el("option", { value: a.id, selected: shown && a.id === shown.id }, label(a))));
}

function setImage(img, src) {
  if (!src) {
    img.removeAttribute("src");
    return;
  }
  // Signed URLs change on every fetch; keep the loaded image when only the signature changed.
  const stable = src.split("?")[0];
  if (img.dataset.stable !== stable) {
    img.dataset.stable = stable;
    img.src = src;
  }
}

function resetCompare() {
  for (const id of ["compare-before", "compare-after"]) {
    const img = $(id);
    img.removeAttribute("src");
    delete img.dataset.stable;
  }
  setComparePosition(50);
  view.fit();
}

function denoiseOf(attempt) {
  const request = (attempt.params && attempt.params.request) || {};
  return typeof request.denoise === "number" ? request.denoise.toFixed(2) : "0.50";
}

function renderAttempts(photo) {
  const list = $("attempts");
  const attempts = photo.restore_attempts || [];
  if (!attempts.length) {
    list.replaceChildren(el("li", { class: "attempt-empty", text: "Not restored yet. Choose settings above and press Restore." }));
    return;
  }
  const shown = selectedAttempt(photo);
  list.replaceChildren(
    ...attempts.map((attempt, index) => {
      const request = (attempt.params && attempt.params.request) || {};
      const chosen = attempt.id === photo.selected_restore_id;
      const settings = [
        `Denoise ${denoiseOf(attempt)}`,
        request.colorize ? "colourised" : null,
        request.mask || request.has_mask ? "marked damage" : null,
        request.prompt ? `“${request.prompt}”` : null,
      ].filter(Boolean);
      const actions = [];
      if (attempt.status === "completed") {
        if (!shown || shown.id !== attempt.id) {
          actions.push(el("button", { type: "button", class: "btn btn-small", onclick: () => compareWith(attempt.id) }, "Compare"));
        }
        if (!chosen) {
          actions.push(el("button", { type: "button", class: "btn btn-small", onclick: () => chooseAttempt(attempt.id) }, "Use this one"));
        }
        actions.push(
          el("a", { class: "btn btn-small btn-quiet", href: attempt.result_url, download: downloadName(photo, `-restored-${attempts.length - index}`, extensionOf(attempt.result_url, "jpg")) }, "Download"),
        );
      } else if (attempt.status === "failed" && index === 0) {
        actions.push(el("button", { type: "button", class: "btn btn-small", onclick: () => retryAttempt(attempt) }, priced("Retry", restorePrice())));
      }
      return el(
        "li",
        { class: "attempt", dataset: { status: attempt.status, attemptId: attempt.id, shown: String(shown && shown.id === attempt.id) } },
        attempt.thumbnail_url
          ? el("img", { class: "attempt-thumb", src: attempt.thumbnail_url, alt: "", loading: "lazy" })
          : el("span", { class: "attempt-thumb attempt-thumb-empty", "aria-hidden": "true" }),
        el(
          "div",
          { class: "attempt-body" },
          el(
            "div",
            { class: "attempt-head" },
            el("span", { class: "attempt-title", text: `Attempt ${attempts.length - index}` }),
            badge(attempt.status),
            chosen ? el("span", { class: "chosen", text: "Chosen" }) : null,
          ),
          el("p", { class: "attempt-meta", text: `${engineLabel(attempt.engine)}${attempt.model ? ` · ${attempt.model}` : ""}` }),
          el("p", { class: "attempt-meta", text: [settings.join(", "), seconds(attempt), timeAgo(attempt.created_at)].filter(Boolean).join(" · ") }),
          attempt.error ? el("p", { class: "attempt-error", text: attempt.error.message }) : null,
          actions.length ? el("div", { class: "attempt-actions" }, actions) : null,
        ),
      );
    }),
  );
}

function compareWith(attemptId) {
  state.compareAttemptId = attemptId;
  renderPhoto(state.current);
  $("compare-handle").focus();
}

async function chooseAttempt(attemptId, { quiet = false } = {}) {
  const shown = state.current;
  const photoId = shown ? shown.id : null;
  if (!photoId) return;
  try {
    const photo = await api("POST", `/photos/${photoId}/selected-restore`, { json: { attempt_id: attemptId } });
    const merged = { ...(state.photos.get(photoId) || shown), ...photo };
    state.photos.set(merged.id, merged);
    renderCard(merged.id);
    if (!state.current || state.current.id !== photoId) return; // the person moved on
    if (!quiet) state.compareAttemptId = attemptId;
    renderPhoto(merged);
    if (!quiet) announce("This attempt is now the chosen restoration.");
  } catch (err) {
    toast(err.message, "error");
  }
}

function restoreBody() {
  const engine = currentEngine();
  const options = new Set((engine && engine.options) || []);
  const body = { engine: engine ? engine.name : undefined };
  if (options.has("denoise")) body.denoise = Number($("restore-denoise").value);
  if (options.has("colorize") && $("restore-colorize").checked) body.colorize = true;
  const prompt = $("restore-prompt").value.trim();
  if (options.has("prompt") && prompt) body.prompt = prompt;
  const seed = $("restore-seed").value.trim();
  if (options.has("seed") && seed !== "") body.seed = Number(seed);
  if (options.has("mask") && brush.strokes.length) body.mask = brush.toDataUrl();
  if ($("restore-choose").checked) body.select = true;
  return body;
}

async function retryAttempt(attempt) {
  const request = (attempt.params && attempt.params.request) || {};
  const engine = state.engines && state.engines.list.find((e) => e.name === attempt.engine);
  if (engine) $("restore-engine").value = engine.name;
  if (typeof request.denoise === "number") $("restore-denoise").value = String(request.denoise);
  $("restore-denoise").dispatchEvent(new Event("input"));
  renderEngineOptions();
  $("restore-form").requestSubmit();
}

async function restoreAgain(event) {
  event.preventDefault();
  const photo = state.current;
  if (!photo) return;
  const error = $("restore-error");
  error.hidden = true;
  const body = restoreBody();
  // The server keeps the chosen attempt unless the request says `select` (or nothing was chosen).
  const keepChoice = photo.selected_restore_id && !body.select;
  // Renders while the request is out (live events, polling) must not re-enable the button.
  const sending = `restore:${photo.id}`;
  state.sending.add(sending);
  $("restore-btn").disabled = true;
  const stillShown = () => state.current && state.current.id === photo.id;
  let sent = false;
  try {
    // Within the rate limit: a 429 is waited out (Retry-After) and sent again.
    let accepted;
    for (;;) {
      try {
        accepted = await api("POST", `/photos/${photo.id}/restore`, { json: body });
        break;
      } catch (err) {
        if (err.status !== 429 || !stillShown()) throw err;
        const wait = Math.max(1, err.retryAfter || 5);
        error.textContent = `The server asks to wait ${wait} s; sending it then.`;
        error.hidden = false;
        await sleep(wait * 1000);
        error.hidden = true;
      }
    }
    sent = true;
    if (stillShown() && !keepChoice) state.compareAttemptId = null;
    if (body.mask) brush.clear();
    setPhotoStatus(photo.id, "processing");
    loadMeSoon();
    await refreshPhoto(photo.id);
    announce("Restoring with the new settings.");
  } catch (err) {
    if (stillShown()) {
      error.textContent = err.message;
      error.hidden = false;
      if (err.code === "insufficient_credits" || err.status === 402) offerCredits(error);
    }
  } finally {
    state.sending.delete(sending);
    if (stillShown()) {
      $("restore-btn").disabled = state.current.status === "processing";
      if (sent && brush.active) brush.stop();
    }
  }
}

// After a refusal for want of credits: the Buy button, or who to ask.
function offerCredits(node) {
  if (billingEnabled()) {
    node.append(" ", el("button", { type: "button", class: "btn btn-small btn-primary", onclick: buyCredits }, "Buy credits"));
  } else {
    node.append(" Ask the operator of this Rekindle for more credits.");
  }
  loadMe();
}

// Animation (hidden when the server has no animation API)

let animationWatch = null;

function renderAnimation(photo) {
  const panel = $("animation-panel");
  const attempts = photo.animation_attempts;
  if (!state.animationsAvailable || attempts === undefined) {
    panel.hidden = true;
    return;
  }
  panel.hidden = photo.status !== "ready" && !attempts.length;
  const latest = attempts[0];
  const video = $("animation-video");
  const status = $("animation-status");
  const download = $("animation-download");
  const button = $("animate-btn");
  const busy = latest && (latest.status === "pending" || latest.status === "processing");
  button.disabled = Boolean(busy) || photo.status !== "ready" || state.sending.has(`animate:${photo.id}`);
  button.textContent = priced(latest ? "Animate again" : "Animate", prices().animation);
  const done = attempts.find((a) => a.status === "completed" && (a.result_url || a.preview_url));
  if (done) {
    const src = done.result_url || done.preview_url;
    if (video.dataset.stable !== src.split("?")[0]) {
      video.dataset.stable = src.split("?")[0];
      video.src = src;
      if (done.thumbnail_url) video.poster = done.thumbnail_url;
    }
    video.hidden = false;
    download.hidden = !done.preview_url;
    if (done.preview_url) {
      download.href = done.preview_url;
      download.download = downloadName(photo, "-animation", "mp4");
    }
  } else {
    video.hidden = true;
    download.hidden = true;
  }
  renderHd(photo, done);
  // Animations take a while; their events may come from a worker that does not publish them yet,
  // so the open photo is also re-read every few seconds until its animation has finished.
  const hdBusy = done && (done.hd_status === "pending" || done.hd_status === "processing");
  clearTimeout(animationWatch);
  if (busy || hdBusy) animationWatch = setTimeout(watchAnimation, POLL_MS);
  status.hidden = !(busy || (latest && latest.status === "failed"));
  if (busy) status.textContent = latest.status === "pending" ? "Queued for animation…" : "Animating… this takes a little while.";
  else if (latest && latest.status === "failed") status.textContent = latest.error ? latest.error.message : "The animation failed.";
}

// HD: bought from the animation view for the newest finished preview.
function renderHd(photo, done) {
  const button = $("hd-btn");
  const link = $("hd-download");
  const status = $("hd-status");
  if (!done) {
    button.hidden = link.hidden = status.hidden = true;
    return;
  }
  const busy = done.hd_status === "pending" || done.hd_status === "processing";
  button.hidden = done.is_hd || busy;
  button.textContent = priced(done.hd_status === "failed" ? "Retry HD" : "HD", prices().hd);
  button.disabled = state.sending.has(`hd:${photo.id}`);
  button.dataset.attemptId = done.id;
  link.hidden = !(done.is_hd && done.result_url);
  if (done.is_hd && done.result_url) {
    link.href = done.result_url;
    link.download = downloadName(photo, "-hd", "mp4");
  }
  status.hidden = !(busy || done.hd_status === "failed");
  if (busy) status.textContent = "Making the HD version… this takes a while.";
  else if (done.hd_status === "failed") status.textContent = done.hd_error ? done.hd_error.message : "The HD version failed; its credits were returned.";
}

async function buyHd() {
  const photo = state.current;
  const attemptId = $("hd-btn").dataset.attemptId;
  if (!photo || !attemptId) return;
  const sending = `hd:${photo.id}`;
  state.sending.add(sending);
  $("hd-btn").disabled = true;
  try {
    await api("POST", `/photos/${photo.id}/animations/${attemptId}/hd`, { json: {} });
    loadMeSoon();
    await refreshPhoto(photo.id);
    announce("Making the HD version.");
  } catch (err) {
    toast(err.message, "error");
    if (err.status === 402) offerCredits($("hd-status")), ($("hd-status").hidden = false);
  } finally {
    state.sending.delete(sending);
    if (state.current && state.current.id === photo.id) renderAnimation(state.current);
  }
}

async function watchAnimation() {
  const id = state.current && state.current.id;
  if (!id) return;
  const photo = await refreshPhoto(id);
  // A failed read renders nothing, so re-arm the watch from what is shown.
  if (photo === undefined && state.current && state.current.id === id) renderAnimation(state.current);
}

async function animate() {
  const photo = state.current;
  if (!photo) return;
  const sending = `animate:${photo.id}`;
  state.sending.add(sending);
  $("animate-btn").disabled = true;
  try {
    await api("POST", `/photos/${photo.id}/animate`, { json: {} });
    loadMeSoon();
    await refreshPhoto(photo.id);
    announce("Animating.");
  } catch (err) {
    if (err.status === 404 && err.code !== "photo_not_found") {
      state.animationsAvailable = false;
      $("animation-panel").hidden = true;
      toast("Animation is not available on this server.");
    } else {
      toast(err.message, "error");
    }
  } finally {
    state.sending.delete(sending);
    if (state.current && state.current.id === photo.id) renderAnimation(state.current);
  }
}

// ---------------------------------------------------------------------------------------------
// Share links: POST/GET /photos/{id}/shares, DELETE .../shares/{share_id}

async function openShare() {
  const panel = $("share-panel");
  panel.hidden = !panel.hidden;
  if (!panel.hidden) {
    await loadShares();
    $("share-create").focus();
  }
}

async function loadShares() {
  const photo = state.current;
  if (!photo) return;
  try {
    const body = await api("GET", `/photos/${photo.id}/shares`);
    if (state.current && state.current.id === photo.id) renderShares(Array.isArray(body) ? body : body.items || []);
  } catch (err) {
    toast(err.message, "error");
  }
}

const shareUrls = new Map(); // share id -> URL (the server returns it at creation only)

function renderShares(links) {
  const list = $("share-links");
  if (!links.length) {
    list.replaceChildren(el("li", { class: "share-empty", text: "No active links." }));
    return;
  }
  list.replaceChildren(
    ...links.map((link) => {
      const url = link.url || shareUrls.get(link.id);
      const input = url ? el("input", { class: "share-url", type: "text", readonly: true, value: url, "aria-label": "Share link" }) : null;
      const day = (iso) => new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
      const when = [link.created_at ? `Made ${day(link.created_at)}` : null, link.expires_at ? `works until ${day(link.expires_at)}` : null].filter(Boolean).join(", ");
      return el(
        "li",
        { class: "share-link", dataset: { shareId: link.id } },
        input,
        el("div", { class: "share-meta" },
          el("span", { text: when || "Active link" }),
          url ? el("button", { type: "button", class: "btn btn-small", onclick: () => copyLink(url, input) }, "Copy link") : null,
          el("button", { type: "button", class: "btn btn-small btn-quiet", onclick: () => revokeShare(link.id) }, "Revoke"),
        ),
      );
    }),
  );
}

async function createShare() {
  const photo = state.current;
  if (!photo) return;
  try {
    const link = await api("POST", `/photos/${photo.id}/shares`, { json: {} });
    shareUrls.set(link.id, link.url);
    await loadShares();
    const input = document.querySelector(`[data-share-id="${link.id}"] .share-url`);
    await copyLink(link.url, input);
  } catch (err) {
    toast(err.message, "error");
  }
}

async function copyLink(url, input) {
  try {
    await navigator.clipboard.writeText(url);
    toast("Link copied.");
  } catch {
    // No clipboard permission (or not a secure context): select it for the person to copy.
    if (input) {
      input.focus();
      input.select();
    }
    toast("Select the link and copy it.");
  }
}

async function revokeShare(shareId) {
  const photo = state.current;
  if (!photo) return;
  try {
    await api("DELETE", `/photos/${photo.id}/shares/${shareId}`);
    await loadShares();
    announce("The link no longer works.");
  } catch (err) {
    toast(err.message, "error");
  }
}

// Delete with confirmation

function askDelete() {
  const dialog = $("confirm-delete");
  dialog.returnValue = "";
  dialog.showModal();
}

async function onDeleteDialogClose() {
  const dialog = $("confirm-delete");
  if (dialog.returnValue !== "delete" || !state.current) {
    $("delete-btn").focus();
    return;
  }
  const photo = state.current;
  try {
    await api("DELETE", `/photos/${photo.id}`);
    removeFromGallery(photo.id);
    state.current = null;
    location.hash = "#/";
    toast(`“${displayName(photo)}” was deleted.`);
  } catch (err) {
    toast(err.message, "error");
  }
}

// ---------------------------------------------------------------------------------------------
// Before/after: the slider (pointer drag on the picture, keyboard on the handle), or side by side;
// zoom and pan move both pictures together (wheel, pinch, double-tap, the buttons).

let comparePosition = 50;

function setComparePosition(value) {
  comparePosition = Math.max(0, Math.min(100, value));
  const frame = $("compare-frame");
  frame.style.setProperty("--split", `${comparePosition}%`);
  const handle = $("compare-handle");
  handle.setAttribute("aria-valuenow", String(Math.round(comparePosition)));
  handle.setAttribute(
    "aria-valuetext",
    `${Math.round(comparePosition)}%: original on the left, restoration on the right`,
  );
}

// Zoom `z` (1 = fit) and pan (px, py): the picture's top-left corner in fractions of its pane, so
// a pane point u shows the picture point (u - px) / z. Both pictures get the same transform.
const view = {
  z: 1,
  px: 0,
  py: 0,
  MAX: 8,
  apply() {
    this.z = Math.max(1, Math.min(this.MAX, this.z));
    this.px = Math.min(0, Math.max(1 - this.z, this.px));
    this.py = Math.min(0, Math.max(1 - this.z, this.py));
    const frame = $("compare-frame");
    frame.style.setProperty("--zoom", String(this.z));
    frame.style.setProperty("--px", String(this.px));
    frame.style.setProperty("--py", String(this.py));
    frame.dataset.zoomed = String(this.z > 1.001);
    $("zoom-level").textContent = `${Math.round(this.z * 100)}%`;
    $("zoom-out").disabled = this.z <= 1.001;
    $("zoom-in").disabled = this.z >= this.MAX - 0.001;
    $("zoom-fit").disabled = this.z <= 1.001;
    debug.zoom = { z: this.z, px: this.px, py: this.py };
  },
  // Zoom by `factor` keeping the pane point (ux, uy) (fractions) where it is.
  zoomAt(factor, ux = 0.5, uy = 0.5) {
    const z = Math.max(1, Math.min(this.MAX, this.z * factor));
    this.px = ux - ((ux - this.px) * z) / this.z;
    this.py = uy - ((uy - this.py) * z) / this.z;
    this.z = z;
    this.apply();
  },
  panBy(dx, dy) {
    this.px += dx;
    this.py += dy;
    this.apply();
  },
  fit() {
    this.z = 1;
    this.px = this.py = 0;
    this.apply();
  },
};

// The pane (the picture's box) a pointer is over, and the pointer's place in it in fractions.
function paneAt(event) {
  const frame = $("compare-frame");
  const rect = frame.getBoundingClientRect();
  const side = $("compare").dataset.layout === "side" && $("compare").dataset.mode === "compare";
  const width = side ? rect.width / 2 : rect.width;
  const left = side && event.clientX - rect.left >= width ? rect.left + width : rect.left;
  return { ux: (event.clientX - left) / width, uy: (event.clientY - rect.top) / rect.height, width, height: rect.height };
}

// Keeps a drag's events coming to `node` when the pointer leaves it (not for synthetic events).
function capture(node, pointerId) {
  try {
    node.setPointerCapture(pointerId);
  } catch {
    // not an active pointer: nothing to capture
  }
}

function setupCompare() {
  const frame = $("compare-frame");
  const handle = $("compare-handle");
  const pointers = new Map(); // pointerId -> {x, y}
  let gesture = null; // {kind: "slide"|"pan"|"pinch"|"pending", ...}
  let lastTap = 0;
  let press = null; // where and when the last single finger went down: taps are short and still
  const sliding = () => $("compare").dataset.mode === "compare" && $("compare").dataset.layout !== "side";
  const fromPointer = (event) => {
    const rect = frame.getBoundingClientRect();
    setComparePosition(((event.clientX - rect.left) / rect.width) * 100);
  };
  const pinchState = () => {
    const [a, b] = [...pointers.values()];
    const rect = frame.getBoundingClientRect();
    return {
      distance: Math.hypot(a.x - b.x, a.y - b.y),
      ux: ((a.x + b.x) / 2 - rect.left) / rect.width,
      uy: ((a.y + b.y) / 2 - rect.top) / rect.height,
    };
  };
  frame.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || $("compare").dataset.mode === "empty") return;
    const onCanvas = brush.active && event.target === $("mask-canvas");
    if (onCanvas && pointers.size === 0 && event.pointerType !== "touch") return; // the brush draws
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    press = pointers.size === 1 ? { id: event.pointerId, x: event.clientX, y: event.clientY, t: Date.now() } : null;
    if (!onCanvas) capture(frame, event.pointerId);
    if (pointers.size === 2) {
      brush.cancelStroke();
      gesture = { kind: "pinch", ...pinchState() };
      return;
    }
    if (brush.active && event.target === $("mask-canvas")) return; // the brush draws (see below)
    const onHandle = handle.contains(event.target);
    if (view.z > 1.001 && !onHandle) {
      gesture = { kind: "pan", x: event.clientX, y: event.clientY };
    } else if (sliding()) {
      if (event.pointerType === "mouse" || onHandle) {
        gesture = { kind: "slide" };
        fromPointer(event);
        handle.focus({ preventScroll: true });
      } else {
        // Touch on the picture: it becomes a slide only once the finger moves sideways; a
        // vertical move is the page scrolling (touch-action: pan-y) and leaves the slider alone.
        gesture = { kind: "pending", x: event.clientX, y: event.clientY };
      }
    }
    if (event.pointerType === "mouse") event.preventDefault();
  });
  frame.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId)) return;
    const last = pointers.get(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (!gesture) return;
    if (gesture.kind === "pinch" && pointers.size === 2) {
      const now = pinchState();
      view.zoomAt(now.distance / gesture.distance, now.ux, now.uy);
      gesture = { kind: "pinch", ...now };
    } else if (gesture.kind === "pan") {
      const pane = paneAt(event);
      view.panBy((event.clientX - last.x) / pane.width, (event.clientY - last.y) / pane.height);
    } else if (gesture.kind === "slide") {
      fromPointer(event);
    } else if (gesture.kind === "pending") {
      const dx = Math.abs(event.clientX - gesture.x);
      const dy = Math.abs(event.clientY - gesture.y);
      if (dx > 8 && dx > dy * 1.5) gesture = { kind: "slide" };
      else if (dy > 8) gesture = null;
    }
  });
  const stop = (event) => {
    const was = gesture;
    pointers.delete(event.pointerId);
    if (pointers.size < 2 && was && was.kind === "pinch") gesture = null;
    if (!pointers.size) gesture = null;
    // Double-tap (touch) zooms in at the tap, or back to fit.
    const tap =
      press && press.id === event.pointerId && Date.now() - press.t < 300 && Math.hypot(event.clientX - press.x, event.clientY - press.y) < 10;
    if (event.type === "pointerup" && event.pointerType === "touch" && tap && !brush.active && !(was && was.kind === "pinch")) {
      const now = Date.now();
      if (now - lastTap < 300) {
        toggleZoomAt(event);
        lastTap = 0;
      } else lastTap = now;
    }
  };
  frame.addEventListener("pointerup", stop);
  frame.addEventListener("pointercancel", stop);
  frame.addEventListener("dblclick", (event) => {
    if (brush.active) return;
    toggleZoomAt(event);
  });
  frame.addEventListener(
    "wheel",
    (event) => {
      if ($("compare").dataset.mode === "empty") return;
      event.preventDefault();
      const pane = paneAt(event);
      const step = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
      view.zoomAt(Math.exp(-step / 300), pane.ux, pane.uy);
    },
    { passive: false },
  );
  handle.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 10 : 2;
    const moves = {
      ArrowLeft: -step,
      ArrowDown: -step,
      ArrowRight: step,
      ArrowUp: step,
      PageDown: -10,
      PageUp: 10,
    };
    if (event.key in moves) setComparePosition(comparePosition + moves[event.key]);
    else if (event.key === "Home") setComparePosition(0);
    else if (event.key === "End") setComparePosition(100);
    else return;
    event.preventDefault();
  });
  // The zoom keys work wherever the focus is inside the comparison.
  $("compare").addEventListener("keydown", (event) => {
    if (event.target.closest("select, input, textarea")) return;
    if (event.key === "+" || event.key === "=") view.zoomAt(1.5);
    else if (event.key === "-") view.zoomAt(1 / 1.5);
    else if (event.key === "0") view.fit();
    else return;
    event.preventDefault();
  });
  $("zoom-in").addEventListener("click", () => view.zoomAt(1.5));
  $("zoom-out").addEventListener("click", () => view.zoomAt(1 / 1.5));
  $("zoom-fit").addEventListener("click", () => view.fit());
  $("layout-toggle").addEventListener("click", () => {
    const side = $("compare").dataset.layout !== "side";
    $("compare").dataset.layout = side ? "side" : "slider";
    $("layout-toggle").setAttribute("aria-pressed", String(side));
    $("layout-toggle").textContent = side ? "Slider" : "Side by side";
    view.apply();
    if (state.current) renderPhoto(state.current);
  });
  $("fullscreen-btn").addEventListener("click", toggleFullscreen);
  document.addEventListener("fullscreenchange", () => {
    const full = document.fullscreenElement === $("compare");
    $("fullscreen-btn").textContent = full ? "Exit fullscreen" : "Fullscreen";
  });
  $("compare-left").addEventListener("change", (event) => {
    state.compareLeftId = event.target.value || null;
    renderPhoto(state.current);
  });
  $("compare-right").addEventListener("change", (event) => {
    state.compareAttemptId = event.target.value || null;
    renderPhoto(state.current);
  });
  setComparePosition(50);
  view.apply();
}

// The frame has the picture's proportions (two pictures wide side by side), no taller than the
// window allows, so neither picture is letterboxed and both panes map to the same picture points.
function sizeFrame(photo) {
  const compare = $("compare");
  const side = compare.dataset.layout === "side" && compare.dataset.mode === "compare";
  const ratio = (photo.width / photo.height) * (side ? 2 : 1);
  compare.style.setProperty("--ar", String(ratio));
  $("compare-frame").style.aspectRatio = String(ratio);
}

function toggleZoomAt(event) {
  if ($("compare").dataset.mode === "empty") return;
  if (view.z > 1.001) view.fit();
  else {
    const pane = paneAt(event);
    view.zoomAt(2.5, pane.ux, pane.uy);
  }
}

async function toggleFullscreen() {
  const compare = $("compare");
  try {
    if (document.fullscreenElement) await document.exitFullscreen();
    else await compare.requestFullscreen();
  } catch {
    toast("This browser cannot show the picture fullscreen.", "error");
  }
}

// ---------------------------------------------------------------------------------------------
// The damage brush: strokes painted over the original, sent as a PNG mask (white = damaged, black
// = keep) at the photo's size with the next restoration. Offered only when the engine honours
// `mask`.

const brush = {
  active: false,
  eraser: false,
  strokes: [], // {erase, size (canvas px), points: [[x, y], ...]}
  current: null,
  canvas() {
    return $("mask-canvas");
  },
  start() {
    const photo = state.current;
    if (!photo) return;
    const canvas = this.canvas();
    if (canvas.width !== photo.width || canvas.height !== photo.height) {
      canvas.width = photo.width;
      canvas.height = photo.height;
      this.redraw();
    }
    this.active = true;
    canvas.hidden = false;
    $("brush-toggle").setAttribute("aria-pressed", "true");
    $("brush-toggle").textContent = "Stop painting";
    // Painting happens on the original, aligned with the slider's left picture.
    state.compareLeftId = null;
    renderPhoto(photo);
  },
  stop() {
    this.active = false;
    this.canvas().hidden = !this.strokes.length;
    $("brush-toggle").setAttribute("aria-pressed", "false");
    $("brush-toggle").textContent = this.strokes.length ? "Paint more" : "Paint damage";
    if (state.current) renderPhoto(state.current);
  },
  reset() {
    this.strokes = [];
    this.current = null;
    this.active = false;
    const canvas = this.canvas();
    canvas.hidden = true;
    canvas.width = canvas.height = 0;
    this.renderButtons();
    $("brush-toggle").setAttribute("aria-pressed", "false");
    $("brush-toggle").textContent = "Paint damage";
  },
  clear() {
    this.strokes = [];
    this.redraw();
    this.renderButtons();
  },
  undo() {
    this.strokes.pop();
    this.redraw();
    this.renderButtons();
  },
  renderButtons() {
    $("brush-undo").disabled = !this.strokes.length;
    $("brush-clear").disabled = !this.strokes.length;
    debug.maskStrokes = this.strokes.length;
    if (state.current) renderRestoreButton(state.current);
  },
  // Screen pixels of the brush -> canvas pixels at the current zoom.
  scale() {
    const rect = this.canvas().getBoundingClientRect();
    return rect.width ? this.canvas().width / rect.width : 1;
  },
  point(event) {
    const rect = this.canvas().getBoundingClientRect();
    return [((event.clientX - rect.left) / rect.width) * this.canvas().width, ((event.clientY - rect.top) / rect.height) * this.canvas().height];
  },
  begin(event) {
    const size = Number($("brush-size").value) * this.scale();
    this.current = { erase: this.eraser, size, points: [this.point(event)] };
    this.strokes.push(this.current);
    this.paint(this.current, this.current.points.length - 1);
  },
  extend(event) {
    if (!this.current) return;
    this.current.points.push(this.point(event));
    this.paint(this.current, this.current.points.length - 2);
  },
  end() {
    if (!this.current) return;
    this.current = null;
    this.renderButtons();
  },
  cancelStroke() {
    if (!this.current) return;
    this.strokes.pop();
    this.current = null;
    this.redraw();
  },
  paint(stroke, from) {
    const ctx = this.canvas().getContext("2d");
    ctx.save();
    ctx.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "rgb(255 64 32)";
    ctx.lineWidth = stroke.size;
    ctx.lineCap = ctx.lineJoin = "round";
    const points = stroke.points.slice(Math.max(0, from));
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
    if (points.length === 1) ctx.lineTo(points[0][0] + 0.01, points[0][1]);
    ctx.stroke();
    ctx.restore();
  },
  redraw() {
    const canvas = this.canvas();
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const stroke of this.strokes) this.paint(stroke, 0);
  },
  // The mask as the restore API takes it: a PNG data URI, white where painted, black elsewhere.
  toDataUrl() {
    const source = this.canvas();
    const out = document.createElement("canvas");
    out.width = source.width;
    out.height = source.height;
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.filter = "brightness(0) invert(1)"; // every painted pixel becomes white
    ctx.drawImage(source, 0, 0);
    return out.toDataURL("image/png");
  },
};

function setupBrush() {
  const canvas = $("mask-canvas");
  let drawing = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (!brush.active || event.button !== 0) return;
    if (drawing !== null) return; // a second finger: the frame pinches instead
    drawing = event.pointerId;
    capture(canvas, event.pointerId);
    brush.begin(event);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (event.pointerId === drawing) brush.extend(event);
  });
  const end = (event) => {
    if (event.pointerId !== drawing) return;
    drawing = null;
    brush.end();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", (event) => {
    if (event.pointerId === drawing) {
      drawing = null;
      brush.cancelStroke();
    }
  });
  $("brush-toggle").addEventListener("click", () => (brush.active ? brush.stop() : brush.start()));
  $("brush-eraser").addEventListener("click", () => {
    brush.eraser = !brush.eraser;
    $("brush-eraser").setAttribute("aria-pressed", String(brush.eraser));
  });
  $("brush-undo").addEventListener("click", () => brush.undo());
  $("brush-clear").addEventListener("click", () => brush.clear());
  const size = $("brush-size");
  size.addEventListener("input", () => ($("brush-size-value").textContent = size.value));
}

// ---------------------------------------------------------------------------------------------

function setupDenoise() {
  for (const prefix of ["restore", "album"]) {
    const input = $(`${prefix}-denoise`);
    const output = $(`${prefix}-denoise-value`);
    const show = () => (output.textContent = Number(input.value).toFixed(2));
    input.addEventListener("input", show);
    show();
  }
}

// ---------------------------------------------------------------------------------------------
// Albums (#/albums, #/albums/{id}): drop a scan of an album page, check the prints found (drag,
// drop or add a corner quadrilateral), cut them into photos, restore the whole album with one
// priced request (POST /photos/restore-batch, with an Idempotency-Key) whose progress comes from
// the live `batch` events, and download it as one ZIP (a one-time `export-ticket` URL).

const album = {
  id: null,
  body: null, // GET /albums/{id}, with every page of its photos in `items`
  photos: new Set(), // ids of the photos shown
  scan: null, // { id, width, height, display_url } of the scan being checked
  quads: [], // its prints' corners, [[x, y] x 4] in scan pixels
  drag: null, // { print, corner, pointerId } while a corner is dragged
  restoreKey: null, // the Idempotency-Key of the "Restore all" click not yet answered
  batch: null, // { id, total, ...latest batch event } of the album's running batch
  loadTimer: null,
};
const batchEvents = new Map(); // batch id -> its latest live event (it may beat the 202 here)
const CORNERS = ["top-left", "top-right", "bottom-right", "bottom-left"];
const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function resetAlbum() {
  Object.assign(album, { id: null, body: null, scan: null, quads: [], batch: null, restoreKey: null });
  album.photos.clear();
  batchEvents.clear();
  $("album-photos").replaceChildren();
  $("album-list").replaceChildren();
  $("scan-editor").hidden = true;
}

async function loadAlbums() {
  try {
    const page = await api("GET", "/albums?limit=100");
    $("album-list").replaceChildren(
      ...page.items.map((item) =>
        el("li", {}, el("a", { class: "album-link", href: `#/albums/${item.id}` },
          el("span", { class: "card-name", text: item.name }),
          el("span", { class: "card-meta", text: `${item.photo_count} ${item.photo_count === 1 ? "photo" : "photos"}` }))),
      ),
    );
    $("albums-empty").hidden = page.items.length > 0;
  } catch (err) {
    if (err.status !== 401) toast(err.message, "error");
  }
}

async function createAlbum(event) {
  event.preventDefault();
  const name = $("album-name").value.trim();
  if (!name) return $("album-name").focus();
  try {
    const created = await api("POST", "/albums", { json: { name } });
    $("album-name").value = "";
    location.hash = `#/albums/${created.id}`;
  } catch (err) {
    toast(err.message, "error");
  }
}

async function openAlbum(id) {
  loadEngines();
  if (album.id !== id) {
    resetAlbum();
    album.id = id;
    $("album-title").textContent = "Loading…";
    $("album-status").textContent = "";
    $("album-progress").hidden = true;
    $("album-bar").dataset.state = "idle";
  }
  await loadAlbum();
  if (album.id === id && album.body) $("main").focus({ preventScroll: true });
}

function loadAlbumSoon() {
  clearTimeout(album.loadTimer);
  album.loadTimer = setTimeout(loadAlbum, 400);
}

async function loadAlbum() {
  const id = album.id;
  if (!id) return;
  let body = null;
  const items = [];
  try {
    let cursor = null;
    do {
      const query = new URLSearchParams({ limit: "100" });
      if (cursor) query.set("cursor", cursor);
      body = await api("GET", `/albums/${id}?${query}`);
      items.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
  } catch (err) {
    if (album.id !== id) return;
    if (err.status === 404) {
      toast("That album is not here any more.", "error");
      location.hash = "#/albums";
    } else if (err.status !== 401) toast(err.message, "error");
    return;
  }
  if (album.id !== id) return;
  album.body = { ...body, items };
  renderAlbum();
}

// The photos a batch would restore now (and charge for): not busy, not archived.
function restorable() {
  return album.body ? album.body.items.filter((p) => !["processing", "archived"].includes(p.status)) : [];
}

function renderAlbum() {
  const { name, items } = album.body;
  $("album-title").textContent = name;
  document.title = `${name} · Rekindle`;
  const ready = items.filter((p) => p.status === "ready").length;
  $("album-sub").textContent = `${items.length} ${items.length === 1 ? "photo" : "photos"}, ${ready} restored.`;
  const grid = $("album-photos");
  const cards = new Map([...grid.children].map((card) => [card.dataset.photoId, card]));
  grid.replaceChildren(
    ...items.map((photo) => {
      state.photos.set(photo.id, { ...(state.photos.get(photo.id) || {}), ...photo });
      const card = cards.get(photo.id) || buildCard(photo);
      card.removeAttribute("id"); // the gallery's cards own card-{id}
      fillCard(card, photo);
      return card;
    }),
  );
  album.photos = new Set(items.map((p) => p.id));
  $("album-empty").hidden = items.length > 0;
  const count = restorable().length;
  const button = $("album-restore");
  button.textContent = priced(`Restore all (${count})`, typeof prices().restore === "number" ? prices().restore * count : null);
  button.disabled = count === 0 || Boolean(album.batch && !album.batch.done);
  $("album-download").disabled = items.length === 0;
}

// --- the scan: detect, check, cut

async function uploadScan(file) {
  if (!file || !album.id) return;
  const status = $("scan-status");
  status.textContent = `Finding the prints in ${file.name}…`;
  $("scan-input").disabled = true;
  const form = new FormData();
  form.append("file", file);
  try {
    if (album.scan) await discardScan({ quiet: true });
    const scan = await api("POST", "/scans?preview=true", { form });
    album.scan = scan;
    album.quads = scan.prints.map((p) => p.quad.map(([x, y]) => [x, y]));
    status.textContent = `${scan.prints.length === 1 ? "1 print" : `${scan.prints.length} prints`} found. Check them below.`;
    $("scan-error").hidden = true;
    $("scan-editor").hidden = false;
    buildScanEditor();
    $("scan-editor").scrollIntoView({ block: "start" });
  } catch (err) {
    status.textContent = "";
    toast(err.message, "error");
  } finally {
    $("scan-input").disabled = false;
  }
}

function buildScanEditor() {
  const { width, height, display_url: url } = album.scan;
  const svg = $("scan-svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren(svgEl("image", { href: url, width, height }));
  album.quads.forEach((quad, index) => svg.append(printNode(index)));
  const count = album.quads.length;
  $("scan-prints").replaceChildren(
    ...album.quads.map((quad, index) =>
      el("li", {}, `Print ${index + 1}`,
        el("button", { type: "button", class: "btn btn-small btn-quiet", onclick: () => removePrint(index) }, `Remove print ${index + 1}`))),
  );
  $("scan-confirm").textContent = `Make ${count} ${count === 1 ? "photo" : "photos"}`;
  $("scan-confirm").disabled = count === 0;
  renderScan();
}

function printNode(index) {
  const group = svgEl("g", { class: "scan-print", "data-print": index });
  group.append(svgEl("polygon", { class: "scan-quad" }), svgEl("text", { class: "scan-label", "aria-hidden": "true" }));
  CORNERS.forEach((name, corner) => {
    const handle = svgEl("circle", {
      class: "scan-corner", tabindex: "0", role: "button", "aria-roledescription": "movable corner",
      "aria-label": `Print ${index + 1}, ${name} corner`, "data-print": index, "data-corner": corner,
    });
    group.append(handle);
  });
  return group;
}

// Sizes in scan pixels that look the same on any screen: handles of 22 px (34 px for a finger).
function scanUnit() {
  const rect = $("scan-svg").getBoundingClientRect();
  return rect.width ? album.scan.width / rect.width : 1;
}

function renderScan() {
  if (!album.scan) return;
  const unit = scanUnit();
  const radius = (matchMedia("(pointer: coarse)").matches ? 17 : 11) * unit;
  for (const group of $("scan-svg").querySelectorAll(".scan-print")) {
    const quad = album.quads[Number(group.dataset.print)];
    group.querySelector("polygon").setAttribute("points", quad.map((p) => p.join(",")).join(" "));
    const label = group.querySelector("text");
    const cx = quad.reduce((sum, p) => sum + p[0], 0) / 4;
    const cy = quad.reduce((sum, p) => sum + p[1], 0) / 4;
    Object.entries({ x: cx, y: cy, "font-size": 22 * unit }).forEach(([k, v]) => label.setAttribute(k, v));
    label.textContent = String(Number(group.dataset.print) + 1);
    for (const handle of group.querySelectorAll("circle")) {
      const [x, y] = quad[Number(handle.dataset.corner)];
      handle.setAttribute("cx", x);
      handle.setAttribute("cy", y);
      handle.setAttribute("r", radius);
    }
  }
}

function removePrint(index) {
  album.quads.splice(index, 1);
  buildScanEditor();
  announce(`Print ${index + 1} removed. ${album.quads.length} left.`);
  ($("scan-prints").querySelectorAll("button")[Math.min(index, album.quads.length - 1)] || $("scan-add")).focus();
}

function addPrint() {
  const { width: w, height: h } = album.scan;
  album.quads.push([[w * 0.35, h * 0.35], [w * 0.65, h * 0.35], [w * 0.65, h * 0.65], [w * 0.35, h * 0.65]]);
  buildScanEditor();
  announce(`Print ${album.quads.length} added in the middle of the scan: move its corners onto the print.`);
  $("scan-svg").querySelector(`circle[data-print="${album.quads.length - 1}"]`).focus();
}

function moveCorner(print, corner, x, y) {
  const { width, height } = album.scan;
  album.quads[print][corner] = [Math.round(Math.min(width, Math.max(0, x))), Math.round(Math.min(height, Math.max(0, y)))];
  renderScan();
}

function scanPoint(event) {
  const point = new DOMPoint(event.clientX, event.clientY).matrixTransform($("scan-svg").getScreenCTM().inverse());
  return [point.x, point.y];
}

function setupScanEditor() {
  const svg = $("scan-svg");
  svg.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest(".scan-corner");
    if (!handle || event.button !== 0) return;
    event.preventDefault();
    handle.focus();
    capture(handle, event.pointerId);
    album.drag = { print: Number(handle.dataset.print), corner: Number(handle.dataset.corner), pointerId: event.pointerId };
  });
  svg.addEventListener("pointermove", (event) => {
    const drag = album.drag;
    if (!drag || drag.pointerId !== event.pointerId) return;
    const [x, y] = scanPoint(event);
    moveCorner(drag.print, drag.corner, x, y);
  });
  const end = (event) => {
    if (album.drag && album.drag.pointerId === event.pointerId) album.drag = null;
  };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  // Arrow keys move a focused corner by 2 screen pixels, 20 with Shift.
  svg.addEventListener("keydown", (event) => {
    const handle = event.target.closest(".scan-corner");
    const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
    if (!handle || !step) return;
    event.preventDefault();
    const distance = (event.shiftKey ? 20 : 2) * scanUnit();
    const [x, y] = album.quads[Number(handle.dataset.print)][Number(handle.dataset.corner)];
    moveCorner(Number(handle.dataset.print), Number(handle.dataset.corner), x + step[0] * distance, y + step[1] * distance);
  });
  new ResizeObserver(renderScan).observe(svg);
  $("scan-add").addEventListener("click", addPrint);
  $("scan-confirm").addEventListener("click", confirmScan);
  $("scan-discard").addEventListener("click", () => discardScan());
}

async function confirmScan() {
  const button = $("scan-confirm");
  const error = $("scan-error");
  button.disabled = true;
  error.hidden = true;
  try {
    const body = { prints: album.quads.map((quad) => ({ quad })), border: true, album_id: album.id };
    const made = await api("POST", `/scans/${album.scan.id}/photos`, { json: body });
    album.scan = null;
    $("scan-editor").hidden = true;
    $("scan-status").textContent = `${made.photos.length} ${made.photos.length === 1 ? "photo" : "photos"} added to the album.`;
    announce($("scan-status").textContent);
    await loadAlbum();
    loadMe();
  } catch (err) {
    error.textContent = err.code === "invalid_quad" ? `${err.message} Move its corners so it outlines a print.` : err.message;
    error.hidden = false;
  } finally {
    button.disabled = album.quads.length === 0;
  }
}

async function discardScan({ quiet = false } = {}) {
  const scan = album.scan;
  album.scan = null;
  $("scan-editor").hidden = true;
  if (!quiet) $("scan-status").textContent = "Scan discarded.";
  if (scan) await api("DELETE", `/scans/${scan.id}`).catch(() => {});
}

// --- Restore all, its progress, Download all

// "Restore all" sends the album bar's engine and, when that engine takes it, its denoise strength.
function renderAlbumOptions() {
  const engine = currentEngine("album-engine");
  $("album-denoise-field").hidden = !(engine && (engine.options || []).includes("denoise"));
}

function albumOptions() {
  const engine = currentEngine("album-engine");
  if (!engine) return {};
  const options = { engine: engine.name };
  if ((engine.options || []).includes("denoise")) options.denoise = Number($("album-denoise").value);
  return options;
}

async function restoreAlbum() {
  const count = restorable().length;
  if (!count) return;
  // The same click retried (after an error) keeps its key, so a request that did reach the
  // server is answered again rather than charged twice.
  if (!album.restoreKey && (await confirmBatch(count, "Restore all", { uploadOnly: false })) !== "restore") return;
  const key = (album.restoreKey ||= newKey());
  const button = $("album-restore");
  const status = $("album-status");
  button.disabled = true;
  status.textContent = "Sending…";
  $("album-bar").dataset.state = "running";
  try {
    const answer = await api("POST", "/photos/restore-batch", {
      json: { album_id: album.id, options: albumOptions() },
      headers: { "Idempotency-Key": key },
    });
    album.restoreKey = null;
    loadMe();
    if (!answer.accepted) {
      album.batch = null;
      status.textContent = `Nothing to restore now: ${answer.skipped} skipped.`;
      $("album-bar").dataset.state = "idle";
    } else {
      album.batch = { batch_id: answer.batch_id, total: answer.accepted, completed: 0, failed: 0, done: false };
      renderProgress(batchEvents.get(answer.batch_id) || album.batch);
    }
  } catch (err) {
    $("album-bar").dataset.state = "failed";
    if (err.code === "insufficient_credits") {
      album.restoreKey = null; // nothing was created: a new click is a new request
      const { required, balance: have } = err.details;
      status.textContent = `Restoring this album costs ${credits(required ?? count)}; you have ${credits(have ?? balance() ?? 0)}.`;
      offerCredits(status);
    } else {
      status.textContent = `${err.message} `;
      status.append(el("button", { type: "button", class: "btn btn-small", onclick: restoreAlbum }, "Retry"));
    }
  } finally {
    renderAlbum();
  }
}

// Two attempts finishing at once may publish their counts out of order: progress only grows.
function mergeProgress(old, data) {
  const merged = { ...old, ...data, done: Boolean((old && old.done) || data.done) };
  for (const key of ["completed", "failed"]) merged[key] = Math.max((old && old[key]) || 0, data[key] || 0);
  return merged;
}

function onBatchEvent(data) {
  batchEvents.set(data.batch_id, mergeProgress(batchEvents.get(data.batch_id), data));
  if (album.batch && album.batch.batch_id === data.batch_id) renderProgress(data);
  if (album.id) loadAlbumSoon();
}

function renderProgress(data) {
  album.batch = mergeProgress(album.batch, data);
  const { total, completed = 0, failed = 0, done } = album.batch;
  const progress = $("album-progress");
  progress.hidden = false;
  progress.max = total;
  progress.value = completed + failed;
  $("album-bar").dataset.state = done ? (failed ? "failed" : "done") : "running";
  const text = done ? `${total} photos: ${completed} restored, ${failed} failed.` : `Restoring: ${completed + failed} of ${total} done…`;
  $("album-status").textContent = text;
  if (done) {
    announce(text);
    loadMe();
    loadAlbumSoon();
  }
  if (album.body) renderAlbum();
}

// A plain link cannot carry the bearer token, and fetch() would hold the whole ZIP in memory: the
// page takes a one-time ticket URL and lets the browser stream the ZIP to disk. The server names
// the file after the album (Content-Disposition), which wins over the empty `download` attribute.
async function downloadAlbum() {
  const button = $("album-download");
  button.disabled = true;
  try {
    const { url } = await api("POST", `/albums/${album.id}/export-ticket`);
    const link = el("a", { href: url, download: true, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (err) {
    toast(err.message, "error");
  } finally {
    button.disabled = !(album.body && album.body.items.length);
  }
}

function setupAlbums() {
  $("album-create").addEventListener("submit", createAlbum);
  $("album-restore").addEventListener("click", restoreAlbum);
  $("album-download").addEventListener("click", downloadAlbum);
  wireDropzone($("scan-dropzone"), $("scan-input"), (files) => uploadScan(files[0]));
  setupScanEditor();
}

async function main() {
  $("signin-form").addEventListener("submit", signIn);
  $("signup-form").addEventListener("submit", signUp);
  $("show-signup").addEventListener("click", () => showSignUp(true));
  $("show-signin").addEventListener("click", () => showSignUp(false));
  $("retry-failed").addEventListener("click", retryFailed);
  $("restore-all").addEventListener("click", restoreAll);
  $("hd-btn").addEventListener("click", buyHd);
  $("share-btn").addEventListener("click", openShare);
  $("share-create").addEventListener("click", createShare);
  $("token-form").addEventListener("submit", useToken);
  $("sign-out").addEventListener("click", () => signOut());
  $("buy-credits").addEventListener("click", buyCredits);
  $("restore-form").addEventListener("submit", restoreAgain);
  $("animate-btn").addEventListener("click", animate);
  $("delete-btn").addEventListener("click", askDelete);
  $("confirm-delete").addEventListener("close", onDeleteDialogClose);
  setupAlbums();
  window.addEventListener("hashchange", route);
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && state.token && !$("view-library").hidden) loadGalleryPage();
  }, { rootMargin: "400px" }).observe($("gallery-sentinel"));
  setupDropzone();
  setupCompare();
  setupBrush();
  setupDenoise();
  await loadConfig();
  const query = new URLSearchParams(location.search);
  const verified = query.get("verified");
  if (verified !== null) {
    // Back from the emailed link (GET /auth/verify): say how it went, and tidy the address.
    history.replaceState(null, "", location.pathname + location.hash);
    const reason = query.get("reason");
    if (verified === "1") toast("Your email address is confirmed. Welcome to Rekindle.");
    else toast(reason === "expired" ? "That link has expired. Sign up again to get a new one." : "That link does not work. Sign in, or sign up again.", "error");
  }
  // A new tab or a reload: the refresh cookie (if any) gives this tab its own access token.
  if (state.token || (await refreshSession())) startSession(state.token);
  else showSignIn();
}

main();
