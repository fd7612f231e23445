// The public share page: /s/{token} shows one photo's original (display copy) and restored
// result with a before/after slider. It reads /api/v1/shares/{token} and nothing else: no sign-in,
// no owner data. The token stays out of Referer headers (the page sends `no-referrer`).

const $ = (id) => document.getElementById(id);

function token() {
  const parts = location.pathname.split("/");
  return decodeURIComponent(parts[parts.length - 1] || "");
}

function setPosition(percent) {
  const value = Math.max(0, Math.min(100, percent));
  $("before").style.clipPath = `inset(0 ${100 - value}% 0 0)`;
  $("handle").style.left = `${value}%`;
  const slider = $("slider");
  slider.value = String(Math.round(value));
  slider.setAttribute("aria-valuetext", `${Math.round(value)}% original`);
}

function wireSlider() {
  const frame = $("compare-frame");
  $("slider").addEventListener("input", (event) => setPosition(Number(event.target.value)));
  let dragging = null;
  const fromEvent = (event) => {
    const box = frame.getBoundingClientRect();
    return ((event.clientX - box.left) / box.width) * 100;
  };
  frame.addEventListener("pointerdown", (event) => {
    dragging = { x: event.clientX, y: event.clientY, moved: false };
  });
  frame.addEventListener("pointermove", (event) => {
    if (!dragging) return;
    const dx = Math.abs(event.clientX - dragging.x);
    const dy = Math.abs(event.clientY - dragging.y);
    // Only a horizontal drag moves the slider; a vertical one is a scroll.
    if (!dragging.moved && dy > dx) { dragging = null; return; }
    dragging.moved = true;
    frame.setPointerCapture(event.pointerId);
    setPosition(fromEvent(event));
  });
  const stop = (event) => {
    if (dragging && !dragging.moved && event.type === "pointerup") setPosition(fromEvent(event));
    dragging = null;
  };
  frame.addEventListener("pointerup", stop);
  frame.addEventListener("pointercancel", stop);
}

async function main() {
  const status = $("share-status");
  let response;
  try {
    response = await fetch(`/api/v1/shares/${encodeURIComponent(token())}`, {
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    status.textContent = "The photo could not be loaded. Check the connection and reload.";
    return;
  }
  if (response.status === 404) {
    status.textContent = "This link has ended: it was revoked, it expired, or the photo was deleted.";
    document.title = "Link ended · Rekindle";
    return;
  }
  if (!response.ok) {
    status.textContent = "The photo could not be loaded. Please try again later.";
    return;
  }
  const shared = await response.json();
  const before = $("before");
  const after = $("after");
  before.src = shared.before_url;
  after.src = shared.after_url;
  if (shared.width && shared.height) {
    $("compare-frame").style.aspectRatio = `${shared.width} / ${shared.height}`;
  }
  const expires = new Date(shared.expires_at);
  $("share-expiry").textContent = `This link works until ${expires.toLocaleDateString()}.`;
  status.textContent = "";
  status.hidden = true;
  $("compare").hidden = false;
  wireSlider();
  setPosition(50);
}

main();
