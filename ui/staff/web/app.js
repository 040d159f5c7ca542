// The staff dashboard and its login page (ui/staff).
//
// The server is the source of truth: the dashboard shows the state frames
// its websocket pushes every second, and acts through POSTs that carry the
// session's CSRF token. Everything from the server is written with
// textContent. Nothing here is about the people checking in: the status
// and the alerts name none of them.
"use strict";

const $ = (id) => document.getElementById(id);

const PROTOCOL_VERSION = 1;
const STALE_MS = 5000;       // no state for this long: the dashboard says it is not live
const PING_MS = 20000;       // a ping to the server, so an idle link is seen to be alive
const BACKOFF_MIN_MS = 500;  // reconnect delays double from here…
const BACKOFF_MAX_MS = 8000; // …up to here

// post sends an action with the session's CSRF token, and returns the
// response. A 401 means the session ended: back to the login page.
async function post(path, csrf, body) {
  const resp = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
  });
  if (resp.status === 401) toLogin();
  return resp;
}

async function errorOf(resp) {
  try {
    const b = await resp.json();
    if (b && b.error) return b.error;
  } catch (e) {
    // not JSON: the status says enough
  }
  return "the kiosk answered " + resp.status;
}

function toLogin() {
  location.replace("/staff/login");
}

// ---- The login page ----

async function loginPage() {
  // Logged in already (another tab): straight to the dashboard.
  try {
    const resp = await fetch("/staff/session", { credentials: "same-origin" });
    if (resp.ok) {
      location.replace("/staff");
      return;
    }
  } catch (e) {
    // the kiosk is not answering: the form will say so
  }
  const form = $("login-form");
  const error = $("login-error");
  const button = $("login-button");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      const resp = await fetch("/staff/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ account: $("account").value, password: $("password").value }),
      });
      if (resp.ok) {
        location.replace("/staff");
        return;
      }
      error.textContent = await errorOf(resp);
    } catch (e) {
      error.textContent = "The kiosk is not answering. Try again.";
    } finally {
      $("password").value = "";
      button.disabled = false;
    }
    error.hidden = false;
    $("password").focus();
  });
}

// ---- Sound ----

// The alert sound is made with WebAudio: no file to fetch. A browser
// lets a page play sound only after a click on it, so until then the
// dashboard shows a button that turns sound on (any click does).
const sound = { ctx: null };

function soundOn() {
  if (!sound.ctx) {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    sound.ctx = new AC();
  }
  if (sound.ctx.state !== "running") sound.ctx.resume();
}

function soundReady() {
  return sound.ctx !== null && sound.ctx.state === "running";
}

// beep plays three rising tones: distinct from a phone, and short.
function beep() {
  if (!soundReady()) return;
  const ctx = sound.ctx;
  const start = ctx.currentTime + 0.02;
  [660, 880, 1100].forEach((freq, i) => {
    const at = start + i * 0.22;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.5, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + 0.21);
  });
}

// ---- The dashboard ----

const dash = {
  csrf: "",
  ws: null,
  backoff: BACKOFF_MIN_MS,
  lastState: 0,       // performance.now() of the last state frame
  seen: new Set(),    // alertKey of each alert shown so far: a new one beeps
  maintenance: false, // as the server last said
};

const ALERT_TITLES = {
  help: "Someone asked for help",
  see_staff: "A person was sent to staff",
  tamper: "The enclosure is open",
  printer: "The receipt printer needs attention",
  disk: "The kiosk is short of disk space",
  lists_stale: "The card lists are out of date",
};

const SCREENS = {
  idle: "Waiting for a card",
  confirm: "A person is confirming",
  challenge: "A person is answering a question",
  success: "Check-in done",
  already: "Already checked in today",
  see_staff: "Person sent to staff",
  help: "Person asked for help",
  out_of_service: "Out of service",
};

const REASONS = {
  enclosure_open: "the enclosure is open",
  storage_low: "too little disk space to record check-ins",
  record_failed: "a check-in could not be stored",
  scanner_unavailable: "the scanner is unplugged or failing",
  lists_stale: "the card lists are out of date",
  maintenance: "maintenance",
};

const DEVICE_WORDS = {
  ok: "OK",
  disconnected: "unplugged",
  fault: "fault",
  absent: "not found",
  none: "not fitted",
  unknown: "unknown",
};

// ago says how long ago an RFC 3339 time was, in words.
function ago(iso) {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (isNaN(t)) return "unknown";
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 5) return "just now";
  if (s < 90) return s + " s ago";
  if (s < 90 * 60) return Math.round(s / 60) + " min ago";
  if (s < 36 * 3600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

function level(el, lvl) {
  el.dataset.level = lvl;
}

function renderStatus(st) {
  // Service
  const out = st.service.state === "out_of_service";
  $("service-state").textContent = out ? "Out of service" : "In service";
  $("service-why").textContent = out
    ? "Why: " + (REASONS[st.service.reason] || st.service.reason || "unknown") + (st.service.error ? " (" + st.service.error + ")" : "")
    : "Taking check-ins";
  level($("tile-service"), out ? "bad" : "ok");

  // Screen
  $("screen").textContent = SCREENS[st.screen] || st.screen || "unknown";
  level($("tile-screen"), st.screen === "help" || st.screen === "see_staff" ? "warn" : st.screen === "out_of_service" ? "bad" : "ok");

  // Devices
  const list = $("devices");
  list.replaceChildren();
  let worst = "ok";
  for (const [name, label] of [["scanner", "Scanner"], ["panel", "Panel"], ["printer", "Printer"], ["display", "Display"]]) {
    const d = st[name] || { state: "unknown" };
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = (DEVICE_WORDS[d.state] || d.state) + (d.error ? ": " + d.error : "");
    dd.dataset.state = d.state;
    list.append(dt, dd);
    if (["disconnected", "fault", "absent"].includes(d.state)) {
      // Without a scanner no one can check in; the rest only degrade it.
      if (name === "scanner") worst = "bad";
      else if (worst !== "bad") worst = "warn";
    }
  }
  level($("tile-devices"), worst);

  // Queue
  const ob = st.outbox;
  $("queue-pending").textContent = ob.pending + (ob.pending === 1 ? " check-in waiting" : " check-ins waiting");
  const q = ["Last upload " + ago(ob.last_upload), ob.uploaded_total + " uploaded in all"];
  if (ob.quarantined) q.push(ob.quarantined + " set aside by the server");
  if (ob.last_error) q.push("Last store error: " + ob.last_error);
  $("queue-detail").textContent = q.join(" · ");
  level($("tile-queue"), ob.last_error || ob.quarantined ? "bad" : ob.pending > 50 ? "warn" : "ok");

  // Upload
  const up = st.upload;
  $("upload-last").textContent = up.last_error ? "Failing" : up.last_attempt ? "Working" : "Not yet tried";
  const u = ["Last try " + ago(up.last_attempt), "heartbeat " + ago(up.last_heartbeat)];
  if (up.head_state) u.push("server says " + up.head_state.replace(/_/g, " "));
  if (up.last_error) u.push("Error: " + up.last_error);
  $("upload-detail").textContent = u.join(" · ");
  level($("tile-upload"), up.last_error ? "bad" : !up.last_attempt ? "unknown" : up.head_state && up.head_state !== "in_sync" ? "warn" : "ok");

  // Clock
  const ck = st.clock;
  const clockWords = { synced: "Synchronized", unsynced: "Not synchronized", implausible: "Wrong", unknown: "Unknown" };
  $("clock-state").textContent = clockWords[ck.state] || ck.state;
  $("clock-detail").textContent = ck.trusted ? "Last trusted time " + new Date(ck.trusted).toLocaleString() : "No trusted time yet";
  level($("tile-clock"), ck.state === "synced" ? "ok" : ck.state === "implausible" ? "bad" : "warn");

  // Lists
  const ls = st.lists;
  $("lists-state").textContent = ls.stale ? "Out of date" : "Fresh";
  const l = ["revocations issued " + ago(ls.revocations_issued_at), "trust list #" + ls.trust_seq, "revocations #" + ls.revocations_seq];
  if (ls.skipped_keys) l.push(ls.skipped_keys + " issuer keys unusable");
  $("lists-detail").textContent = l.join(" · ");
  level($("tile-lists"), ls.stale ? "bad" : ls.skipped_keys ? "warn" : "ok");
}

// alertKey names an alert across daemon restarts, which start ids again
// from 1: a new alert with an old id still beeps.
const alertKey = (a) => a.id + "@" + a.raised_at;

function renderAlerts(alerts) {
  document.body.dataset.alerts = String(alerts.length);
  $("no-alerts").hidden = alerts.length > 0;
  const list = $("alert-list");
  const keys = alerts.map(alertKey).join(" ");
  if (list.dataset.keys === keys) {
    // The same alerts: only their age changes. The list is not rebuilt,
    // so a finger on its way to Acknowledge still lands on the button.
    list.querySelectorAll("li").forEach((li, i) => {
      li.querySelector(".when").textContent = ago(alerts[i].raised_at);
    });
    return;
  }
  list.dataset.keys = keys;
  list.replaceChildren();
  let fresh = false;
  for (const a of alerts) {
    if (!dash.seen.has(alertKey(a))) {
      dash.seen.add(alertKey(a));
      fresh = true;
    }
    const li = document.createElement("li");
    li.className = "alert";
    li.dataset.kind = a.kind;
    li.dataset.id = String(a.id);
    const title = document.createElement("strong");
    title.textContent = ALERT_TITLES[a.kind] || "Alert: " + a.kind;
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = ago(a.raised_at);
    const detail = document.createElement("span");
    detail.className = "detail";
    detail.textContent = a.detail || "";
    const ack = document.createElement("button");
    ack.type = "button";
    ack.className = "btn btn-ack";
    ack.textContent = "Acknowledge";
    ack.addEventListener("click", () => acknowledge(a.id, ack));
    li.append(title, when, detail, ack);
    list.append(li);
  }
  if (fresh) beep();
}

function render(f) {
  dash.lastState = performance.now();
  setConn("live", "Live");
  renderAlerts(f.alerts || []);
  if (f.status) {
    document.body.dataset.status = "ok";
    renderStatus(f.status);
  } else {
    document.body.dataset.status = "error";
    $("service-state").textContent = "Status unavailable";
    $("service-why").textContent = f.status_error || "";
    level($("tile-service"), "bad");
  }
  dash.maintenance = !!f.maintenance;
  const actions = f.actions || [];
  const m = $("maintenance");
  m.hidden = !actions.includes("maintenance");
  m.textContent = dash.maintenance ? "Put back in service" : "Take out of service";
  $("sync").hidden = !actions.includes("sync");
}

function setConn(state, words) {
  document.body.dataset.connection = state;
  $("conn").textContent = words;
}

async function acknowledge(id, button) {
  button.disabled = true;
  const resp = await post("/staff/alerts/" + id + "/ack", dash.csrf);
  if (!resp.ok && resp.status !== 404) {
    $("action-result").textContent = "Could not acknowledge: " + (await errorOf(resp));
    button.disabled = false;
  }
  // The next state frame removes it from the list, here and on every other dashboard.
}

async function toggleMaintenance() {
  const on = !dash.maintenance;
  if (on && !confirm("Take the kiosk out of service? People will be asked to see staff.")) return;
  const resp = await post("/staff/maintenance", dash.csrf, { on });
  $("action-result").textContent = resp.ok
    ? (on ? "The kiosk is out of service." : "The kiosk is back in service.")
    : "Could not change the service: " + (await errorOf(resp));
}

async function syncNow() {
  const resp = await post("/staff/sync", dash.csrf);
  $("action-result").textContent = resp.ok ? "Upload asked for." : "Could not ask for an upload: " + (await errorOf(resp));
}

async function logout() {
  await post("/staff/logout", dash.csrf);
  toLogin();
}

// session fetches who is logged in and the CSRF token. It returns "ok",
// "login" (no session: it has gone to the login page) or "error".
async function session() {
  const resp = await fetch("/staff/session", { credentials: "same-origin" });
  if (resp.status === 401) {
    toLogin();
    return "login";
  }
  if (!resp.ok) return "error";
  const s = await resp.json();
  dash.csrf = s.csrf_token;
  $("account").textContent = s.account;
  return "ok";
}

function connect() {
  setConn(dash.lastState ? "down" : "connecting", dash.lastState ? "Reconnecting…" : "Connecting…");
  const ws = new WebSocket("wss://" + location.host + "/staff/ws");
  dash.ws = ws;
  ws.addEventListener("open", () => {
    ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: "hello", csrf_token: dash.csrf }));
  });
  ws.addEventListener("message", (ev) => {
    let f;
    try {
      f = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (f.v === PROTOCOL_VERSION && f.type === "state") {
      dash.backoff = BACKOFF_MIN_MS;
      render(f);
    }
  });
  ws.addEventListener("close", async (ev) => {
    if (dash.ws !== ws) return;
    dash.ws = null;
    setConn("down", "Not connected: reconnecting…");
    const delay = dash.backoff * (0.5 + Math.random());
    dash.backoff = Math.min(dash.backoff * 2, BACKOFF_MAX_MS);
    await new Promise((resolve) => setTimeout(resolve, delay));
    // The session may have ended (1008): ask before trying again.
    try {
      if ((await session()) === "login") return;
    } catch (e) {
      // the kiosk is not answering: try again
    }
    connect();
  });
}

function watchdog() {
  if (document.body.dataset.connection === "live" && performance.now() - dash.lastState > STALE_MS) {
    setConn("down", "No news for " + Math.round((performance.now() - dash.lastState) / 1000) + " s");
  }
  $("sound").hidden = soundReady();
}

async function dashboardPage() {
  $("logout").addEventListener("click", logout);
  $("maintenance").addEventListener("click", toggleMaintenance);
  $("sync").addEventListener("click", syncNow);
  $("sound").addEventListener("click", soundOn);
  document.addEventListener("pointerdown", soundOn);
  document.addEventListener("keydown", soundOn);
  setInterval(watchdog, 1000);
  setInterval(() => {
    if (dash.ws && dash.ws.readyState === WebSocket.OPEN) {
      dash.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: "ping" }));
    }
  }, PING_MS);
  $("sound").hidden = false;
  for (;;) {
    try {
      const got = await session();
      if (got === "login") return;
      if (got === "ok") break;
    } catch (e) {
      // the kiosk is not answering
    }
    setConn("down", "The kiosk is not answering: trying again…");
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  connect();
}

if (document.body.dataset.page === "login") {
  loginPage();
} else {
  dashboardPage();
}
