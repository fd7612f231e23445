// Rekindle's built-in page: plain ES modules, no framework, no build step.
// Talks to /api/v1 only. The bearer token lives in sessionStorage (never in a URL); the live
// event stream is opened with a one-time ticket (POST /api/v1/events/ticket).

const API = "/api/v1";
const TOKEN_KEY = "rekindle.token";
const PAGE_SIZE = 24;
const POLL_MS = 3000;

const $ = (id) => document.getElementById(id);

// Test and debugging hook: what the live stream delivered, and its state.
const debug = (window.__rekindle = { events: [], live: "idle", polls: 0 });

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
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
};

// ---------------------------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, { json, form, auth = true } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = new URLSearchParams(form);
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
    if (response.status === 401 && auth) sessionEnded();
    throw new ApiError(response.status, code, message);
  }
  return data;
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
  for (const id of ["view-library", "view-photo"]) $(id).hidden = true;
  $("session-bar").hidden = true;
  $("view-signin").hidden = false;
  const local = !state.config || state.config.mode === "local";
  $("signin-form").hidden = !local;
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
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
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
  showSignIn(message);
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
  sessionStorage.setItem(TOKEN_KEY, token);
  $("view-signin").hidden = true;
  $("session-bar").hidden = false;
  $("who").textContent = tokenEmail(token);
  loadMe();
  live.start();
  route();
}

async function loadMe() {
  try {
    state.me = await api("GET", "/me");
    if (state.me.email) $("who").textContent = state.me.email;
    $("credits-count").textContent = state.me.credit_balance ?? 0;
    $("credits").hidden = state.me.credit_balance === undefined;
    $("buy-credits").hidden = !(state.config && state.config.billing);
  } catch {
    $("credits").hidden = true; // no /me on this server yet
  }
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

function route() {
  if (!state.token) return showSignIn();
  const match = location.hash.match(/^#\/photos\/([0-9a-f-]{36})$/);
  if (match) {
    $("view-library").hidden = true;
    $("view-photo").hidden = false;
    openPhoto(match[1]);
  } else {
    $("view-photo").hidden = true;
    $("view-library").hidden = false;
    state.current = null;
    document.title = "Your photographs · Rekindle";
    if (!state.galleryLoaded) loadGalleryPage();
  }
}

// ---------------------------------------------------------------------------------------------
// Upload: one XHR per file so that upload.onprogress reports the bytes really sent

function uploadFiles(files) {
  const accepted = [...files];
  if (!accepted.length) return;
  location.hash = "#/";
  for (const file of accepted) uploadOne(file);
  announce(`${accepted.length} ${accepted.length === 1 ? "photo" : "photos"} uploading.`);
}

function uploadOne(file) {
  const progress = el("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const detail = el("span", { class: "upload-detail", text: `0 of ${formatBytes(file.size)}` });
  const message = el("p", { class: "upload-message", role: "status" });
  const item = el(
    "li",
    { class: "upload", dataset: { state: "sending" } },
    el("div", { class: "upload-row" }, el("span", { class: "upload-name", text: file.name }), detail),
    progress,
    message,
  );
  $("uploads").prepend(item);

  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
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
      message.textContent = $("auto-restore").checked ? "Uploaded. Restoring…" : "Uploaded.";
      addToGallery(body, true);
      if ($("auto-restore").checked) {
        try {
          await api("POST", `/photos/${body.id}/restore`, { json: { denoise: 0.5 } });
          setPhotoStatus(body.id, "processing");
        } catch (err) {
          message.textContent = err.message;
          item.dataset.state = "error";
          return;
        }
      }
      setTimeout(() => item.remove(), 4000);
      return;
    }
    if (xhr.status === 401) sessionEnded();
    item.dataset.state = "error";
    const error = body && body.error;
    message.textContent = (error && error.message) || `Upload failed (${xhr.status || "network error"}).`;
    detail.textContent = "Not uploaded";
    progress.value = 0;
  };
  xhr.onerror = () => {
    item.dataset.state = "error";
    message.textContent = "The upload was interrupted. Check your connection and try again.";
  };
  xhr.send(form);
}

function setupDropzone() {
  const zone = $("dropzone");
  const input = $("file-input");
  input.addEventListener("change", () => {
    uploadFiles(input.files);
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
  zone.addEventListener("drop", (event) => uploadFiles(event.dataTransfer.files));
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
    });
    source.addEventListener("attempt", (event) => {
      this.lastEventId = event.lastEventId;
      const data = JSON.parse(event.data);
      debug.events.push(data);
      onAttemptEvent(data);
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
    $("photo-title").textContent = "Loading…";
    $("attempts").replaceChildren();
    resetCompare();
  }
  loadEngines();
  const photo = await refreshPhoto(id);
  if (!location.hash.endsWith(id)) return; // the person went elsewhere meanwhile
  if (photo === undefined) {
    if (state.token) {
      $("photo-title").textContent = "This photograph could not be loaded.";
      toast("This photograph could not be loaded. Please try again.", "error");
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

async function loadEngines() {
  if (state.engines) return;
  try {
    state.engines = await api("GET", "/engines"); // [{name, kind, default, options, price}]
  } catch {
    state.engines = [{ name: "classic", kind: "restore", default: true, options: ["denoise"] }];
  }
  const select = $("restore-engine");
  select.replaceChildren(
    ...state.engines
      .filter((engine) => engine.kind === "restore")
      .map((engine) => el("option", { value: engine.name, selected: engine.default }, engineLabel(engine.name))),
  );
}

function engineLabel(name) {
  return (
    { classic: "Classic (on this server)", siliconflow: "SiliconFlow · Qwen Image Edit", comfyui: "ComfyUI", runpod: "RunPod" }[name] ||
    name
  );
}

function selectedAttempt(photo) {
  const attempts = photo.restore_attempts || [];
  const wanted = state.compareAttemptId || photo.selected_restore_id;
  return (
    attempts.find((a) => a.id === wanted && a.status === "completed") || attempts.find((a) => a.status === "completed") || null
  );
}

function renderPhoto(photo) {
  state.current = photo;
  document.title = `${displayName(photo)} · Rekindle`;
  $("photo-title").textContent = displayName(photo);
  badge(photo.status, $("photo-status"));

  // Comparison
  const attempt = selectedAttempt(photo);
  const frame = $("compare-frame");
  frame.style.aspectRatio = `${photo.width} / ${photo.height}`;
  setImage($("compare-before"), photo.original_url);
  if (attempt && attempt.result_url) {
    setImage($("compare-after"), attempt.result_url);
    $("compare").dataset.mode = "compare";
    $("compare-caption").textContent = `Before and after: ${engineLabel(attempt.engine)}, denoise ${denoiseOf(attempt)}. Drag the handle, or focus it and use the arrow keys.`;
  } else {
    $("compare").dataset.mode = "original";
    $("compare-caption").textContent = "The original. The restoration appears here when it is ready.";
  }
  const working = photo.status === "processing";
  $("compare-working").hidden = !working;
  const running = (photo.restore_attempts || []).find((a) => a.status === "pending" || a.status === "processing");
  $("compare-working-text").textContent = running && running.status === "pending" ? "Queued…" : "Restoring…";

  // Downloads
  const original = $("download-original");
  original.href = photo.original_url;
  const result = $("download-result");
  result.hidden = !(attempt && attempt.result_url);
  if (attempt && attempt.result_url) result.href = attempt.result_url;

  // Restore form
  $("restore-btn").disabled = working || state.sending.has(`restore:${photo.id}`);
  $("restore-btn").textContent = working ? "Restoring…" : "Restore";

  renderAttempts(photo);
  renderAnimation(photo);
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
        actions.push(el("a", { class: "btn btn-small btn-quiet", href: attempt.result_url, download: "" }, "Download"));
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

async function chooseAttempt(attemptId) {
  const shown = state.current;
  try {
    const photo = await api("POST", `/photos/${shown.id}/selected-restore`, { json: { attempt_id: attemptId } });
    const merged = { ...(state.photos.get(shown.id) || shown), ...photo };
    state.photos.set(merged.id, merged);
    renderCard(merged.id);
    if (!state.current || state.current.id !== shown.id) return; // the person moved on
    state.compareAttemptId = attemptId;
    renderPhoto(merged);
    announce("This attempt is now the chosen restoration.");
  } catch (err) {
    toast(err.message, "error");
  }
}

async function restoreAgain(event) {
  event.preventDefault();
  const photo = state.current;
  if (!photo) return;
  const error = $("restore-error");
  error.hidden = true;
  const prompt = $("restore-prompt").value.trim();
  const body = {
    engine: $("restore-engine").value || undefined,
    denoise: Number($("restore-denoise").value),
    colorize: $("restore-colorize").checked,
    ...(prompt ? { prompt } : {}),
  };
  // Renders while the request is out (live events, polling) must not re-enable the button.
  const sending = `restore:${photo.id}`;
  state.sending.add(sending);
  $("restore-btn").disabled = true;
  const stillShown = () => state.current && state.current.id === photo.id;
  try {
    await api("POST", `/photos/${photo.id}/restore`, { json: body });
    if (stillShown()) state.compareAttemptId = null;
    setPhotoStatus(photo.id, "processing");
    await refreshPhoto(photo.id);
    announce("Restoring with the new settings.");
  } catch (err) {
    if (stillShown()) {
      error.textContent = err.message;
      error.hidden = false;
    }
  } finally {
    state.sending.delete(sending);
    if (stillShown()) $("restore-btn").disabled = state.current.status === "processing";
  }
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
  button.textContent = latest ? "Animate again" : "Animate";
  const done = attempts.find((a) => a.status === "completed" && (a.result_url || a.preview_url));
  if (done) {
    const src = done.result_url || done.preview_url;
    if (video.dataset.stable !== src.split("?")[0]) {
      video.dataset.stable = src.split("?")[0];
      video.src = src;
      if (done.thumbnail_url) video.poster = done.thumbnail_url;
    }
    video.hidden = false;
    download.hidden = false;
    download.href = src;
  } else {
    video.hidden = true;
    download.hidden = true;
  }
  // Animations take a while; their events may come from a worker that does not publish them yet,
  // so the open photo is also re-read every few seconds until its animation has finished.
  clearTimeout(animationWatch);
  if (busy) animationWatch = setTimeout(watchAnimation, POLL_MS);
  status.hidden = !(busy || (latest && latest.status === "failed"));
  if (busy) status.textContent = latest.status === "pending" ? "Queued for animation…" : "Animating… this takes a little while.";
  else if (latest && latest.status === "failed") status.textContent = latest.error ? latest.error.message : "The animation failed.";
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
// Before/after slider: pointer drag anywhere on the picture, and the keyboard on the handle

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

function setupCompare() {
  const frame = $("compare-frame");
  const handle = $("compare-handle");
  let dragging = false;
  const fromPointer = (event) => {
    const rect = frame.getBoundingClientRect();
    setComparePosition(((event.clientX - rect.left) / rect.width) * 100);
  };
  frame.addEventListener("pointerdown", (event) => {
    if ($("compare").dataset.mode !== "compare" || event.button !== 0) return;
    dragging = true;
    frame.setPointerCapture(event.pointerId);
    fromPointer(event);
    handle.focus({ preventScroll: true });
    event.preventDefault();
  });
  frame.addEventListener("pointermove", (event) => dragging && fromPointer(event));
  const stop = () => (dragging = false);
  frame.addEventListener("pointerup", stop);
  frame.addEventListener("pointercancel", stop);
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
  setComparePosition(50);
}

// ---------------------------------------------------------------------------------------------

function setupDenoise() {
  const input = $("restore-denoise");
  const output = $("restore-denoise-value");
  const show = () => (output.textContent = Number(input.value).toFixed(2));
  input.addEventListener("input", show);
  show();
}

async function main() {
  $("signin-form").addEventListener("submit", signIn);
  $("token-form").addEventListener("submit", useToken);
  $("sign-out").addEventListener("click", () => signOut());
  $("buy-credits").addEventListener("click", buyCredits);
  $("restore-form").addEventListener("submit", restoreAgain);
  $("animate-btn").addEventListener("click", animate);
  $("delete-btn").addEventListener("click", askDelete);
  $("confirm-delete").addEventListener("close", onDeleteDialogClose);
  window.addEventListener("hashchange", route);
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && state.token && !$("view-library").hidden) loadGalleryPage();
  }, { rootMargin: "400px" }).observe($("gallery-sentinel"));
  setupDropzone();
  setupCompare();
  setupDenoise();
  await loadConfig();
  if (state.token) startSession(state.token);
  else showSignIn();
}

main();
