// The staff dashboard and its login page (ui/staff).
//
// The server is the source of truth: the dashboard shows the state frames
// its websocket pushes every second, and acts through POSTs that carry the
// session's CSRF token. Everything from the server is written with
// textContent. Nothing here is about the people checking in: the status
// and the alerts name none of them, and the history shows of a check-in
// only its time, outcome, upload state and the last 3 characters of its
// card's serial.
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
  history: "",        // the history last drawn, as JSON
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

// bytes writes n bytes for a person: "12.3 GB".
function bytes(n) {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}

function renderStatus(st) {
  // Service
  const out = st.service.state === "out_of_service";
  $("service-state").textContent = out ? "Out of service" : "In service";
  $("service-why").textContent = out
    ? "Why: " + (REASONS[st.service.reason] || st.service.reason || "unknown") + (st.service.error ? " (" + st.service.error + ")" : "")
    : "Taking check-ins";
  if (st.storage && st.storage.free_bytes > 0) {
    // Disk space: the kiosk stops taking cards below the reserve.
    $("service-why").textContent += " · disk " + bytes(st.storage.free_bytes) + " free (stops below " + bytes(st.storage.reserve_bytes) + ")";
  }
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

// ---- History: charts and recent check-ins ----

const SVG_NS = "http://www.w3.org/2000/svg";
const DAY_MS = 24 * 3600 * 1000;

// svg makes an SVG element with attributes (geometry only: every colour
// is a class of style.css, as the CSP allows no style attribute).
function svg(name, attrs, cls) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (cls) el.setAttribute("class", cls);
  return el;
}

function svgText(x, y, words, cls) {
  const t = svg("text", { x, y }, cls);
  t.textContent = words;
  return t;
}

const fmt = (n) => Number(n).toLocaleString("en-US");

const OUTCOMES = { checked_in: "Checked in" };
const UPLOADS = { sent: "Sent", pending: "Waiting", set_aside: "Set aside by the server" };

function renderProgress(p) {
  $("queue-progress").hidden = !p;
  if (!p) return;
  $("queue-bar").max = p.total;
  $("queue-bar").value = p.sent;
  $("queue-progress-text").textContent = fmt(p.sent) + " of " + fmt(p.total) + " sent";
}

// renderHourly draws today's check-ins per hour as bars, each with its
// count above it and its hour below.
function renderHourly(hours) {
  const chart = $("chart-hourly");
  const W = 960, H = 220, top = 24, bottom = 28; // about its size on a laptop: the text reads as the page's
  chart.setAttribute("viewBox", "0 0 " + W + " " + H);
  const plot = H - top - bottom;
  const most = Math.max(1, ...hours.map((h) => h.count));
  const slot = W / Math.max(1, hours.length);
  const items = [svg("line", { x1: 0, y1: top + plot, x2: W, y2: top + plot }, "axis")];
  let total = 0, busiest = null;
  hours.forEach((h, i) => {
    total += h.count;
    if (h.count > 0 && (!busiest || h.count > busiest.count)) busiest = h;
    const cx = slot * i + slot / 2;
    if (h.count > 0) {
      const bh = Math.max(2, (h.count / most) * plot);
      items.push(svg("rect", { x: cx - slot * 0.35, y: top + plot - bh, width: slot * 0.7, height: bh }, h.now ? "bar now" : "bar"));
      items.push(svgText(cx, top + plot - bh - 5, String(h.count), "count"));
    }
    items.push(svgText(cx, H - 8, h.hour, h.now ? "hour now" : "hour"));
  });
  chart.replaceChildren(...items);
  $("hourly-summary").textContent = total === 0
    ? "No check-ins yet today"
    : fmt(total) + (total === 1 ? " check-in today" : " check-ins today") +
      " · busiest hour " + busiest.hour + ":00 (" + fmt(busiest.count) + ")";
}

// renderQueue draws the queue's depth over the 24 hours before at, as a
// line over an area, broken where samples are missing.
function renderQueue(points, at, everyS) {
  const chart = $("chart-queue");
  const W = 560, H = 240, left = 60, right = 10, top = 16, bottom = 28; // half the width of the hourly chart
  chart.setAttribute("viewBox", "0 0 " + W + " " + H);
  const end = Date.parse(at), start = end - DAY_MS;
  const pts = points.map((p) => ({ t: Date.parse(p.at), n: p.pending })).filter((p) => p.t >= start && p.t <= end);
  const most = Math.max(1, ...pts.map((p) => p.n));
  const pw = W - left - right, ph = H - top - bottom;
  const x = (t) => left + ((t - start) / DAY_MS) * pw;
  const y = (n) => top + ph - (n / most) * ph;
  const items = [
    svg("line", { x1: left, y1: top, x2: W - right, y2: top }, "grid-line"),
    svg("line", { x1: left, y1: top + ph, x2: W - right, y2: top + ph }, "axis"),
    svgText(left - 6, top + 5, fmt(most), "y-label"),
    svgText(left - 6, top + ph + 5, "0", "y-label"),
    svgText(left, H - 7, "24 h ago", "x-label start"),
    svgText(left + pw / 2, H - 7, "12 h ago", "x-label"),
    svgText(W - right, H - 7, "now", "x-label end"),
  ];
  // Segments of samples no more than two periods apart.
  const segments = [];
  for (const p of pts) {
    const seg = segments[segments.length - 1];
    if (seg && p.t - seg[seg.length - 1].t <= 2 * everyS * 1000) seg.push(p);
    else segments.push([p]);
  }
  for (const seg of segments) {
    if (seg.length === 1) {
      items.push(svg("circle", { cx: x(seg[0].t), cy: y(seg[0].n), r: 4 }, "dot"));
      continue;
    }
    const line = seg.map((p, i) => (i ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.n).toFixed(1)).join(" ");
    const area = line + " L" + x(seg[seg.length - 1].t).toFixed(1) + " " + y(0) + " L" + x(seg[0].t).toFixed(1) + " " + y(0) + " Z";
    items.push(svg("path", { d: area }, "area"), svg("path", { d: line }, "line"));
  }
  chart.replaceChildren(...items);
  if (pts.length === 0) {
    $("queue-summary").textContent = "No samples yet";
  } else {
    const peak = pts.reduce((a, b) => (b.n > a.n ? b : a));
    $("queue-summary").textContent = fmt(pts[pts.length - 1].n) + " waiting at the last sample · most " +
      fmt(peak.n) + ", " + ago(new Date(peak.t).toISOString());
  }
  const since = pts.length ? pts[0].t : end;
  $("queue-note").textContent = "Sampled every " + Math.round(everyS / 60) + " min." +
    (since - start > 2 * everyS * 1000 ? " The chart starts when the kiosk last started, " + ago(new Date(since).toISOString()) + "." : "");
}

function renderRecent(rows) {
  $("recent-none").hidden = rows.length > 0;
  $("recent-rows").replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    const cells = [
      [r.when, "when"],
      [r.card, "card"],
      [OUTCOMES[r.outcome] || r.outcome, "outcome"],
      [UPLOADS[r.upload] || r.upload, "upload"],
    ];
    for (const [words, cls] of cells) {
      const td = document.createElement("td");
      td.className = cls;
      td.textContent = words;
      tr.append(td);
    }
    tr.lastChild.dataset.upload = r.upload;
    tr.dataset.seq = String(r.seq);
    return tr;
  }));
}

// renderHistory redraws the history when it changed: the server puts it
// together every few seconds, and the state comes every second.
function renderHistory(h) {
  const key = JSON.stringify(h);
  if (key === dash.history) return;
  dash.history = key;
  $("history").hidden = !h;
  if (!h) return;
  const known = h.recent !== null && h.hourly !== null;
  $("panel-hourly").hidden = !known;
  $("panel-recent").hidden = !known;
  if (known) {
    renderHourly(h.hourly);
    renderRecent(h.recent);
  }
  renderQueue(h.queue || [], h.at, h.queue_every_s || 300);
  $("history-error").hidden = !h.error;
  $("history-error").textContent = h.error
    ? "Could not read the check-ins: " + h.error + (h.read_at ? " (showing those read " + ago(h.read_at) + ")" : "")
    : "";
}

function render(f) {
  dash.lastState = performance.now();
  setConn("live", "Live");
  renderAlerts(f.alerts || []);
  renderHistory(f.history || null);
  renderProgress(f.upload_progress || null);
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
