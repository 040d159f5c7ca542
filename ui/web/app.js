// The kiosk page: a thin view of the server's screen (ui/PROTOCOL.md).
//
// The server is the source of truth. This script renders the screen it is
// sent, sends what the person taps, keeps the websocket alive and
// reconnects when it drops. It keeps no state of its own beyond the
// screen on show, and clears personal data from the DOM when a screen is
// left.
"use strict";

// STRINGS is every word on the page, per language, keyed by id: the
// message catalogs (ui/web/i18n/LANG.json, one file per language), which
// the page loads from /i18n.json before it connects. A language is one
// entry: "name" in its own language and script (shown in the picker),
// "dir" ("ltr" or "rtl"), and its strings in "t". A missing string falls
// back to English. Reasons are "reason_" + the kiosk.Reason code. Until
// the catalogs arrive, the page can say one thing: wait.
let STRINGS = { en: { name: "English", dir: "ltr", t: { one_moment: "One moment…" } } };

// loadCatalogs fetches the catalogs, trying again every second until it
// has them: the page was served by the same daemon, so it is a moment at
// most.
async function loadCatalogs() {
  for (;;) {
    try {
      const resp = await fetch("/i18n.json", { cache: "no-cache" });
      if (resp.ok) {
        STRINGS = await resp.json();
        return;
      }
    } catch (e) {
      // the daemon is restarting: try again
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const DEFAULT_LANG = "en";
const PROTOCOL_VERSION = 1;
const WARN_MS = 15000;        // show the timeout warning this long before the end
const PING_MS = 15000;        // heartbeat to the server
const SILENCE_MS = 40000;     // no frame for this long: the connection is dead
const BACKOFF_MIN_MS = 500;   // reconnect delays double from here…
const BACKOFF_MAX_MS = 8000;  // …up to here
const SAVER_MS = 120000;      // idle this long without a touch or a frame: the screensaver

// The screens this page can show; any other name from a newer server
// shows the neutral "One moment…".
const SCREENS = ["connecting", "idle", "no_scanner", "confirm", "challenge", "success", "already", "see_staff", "help", "out_of_service"];

// The actions that answer the screen they were tapped on (kiosk.AnswersScreen):
// a tap begun on an earlier screen is not sent. Help and language apply to
// whatever is on screen.
const ANSWERS = ["confirm", "deny", "extend", "another", "done", "answer"];

const $ = (id) => document.getElementById(id);

const page = {
  lang: DEFAULT_LANG,
  screen: "connecting",
  deadline: 0, // performance.now() when the screen times out; 0 if it does not
  rev: 0,      // the rev of the screen on show, sent with every action; 0 while connecting
  seq: 0,      // counts the screens shown
  shownAt: 0,  // performance.now() when the screen on show was drawn
  down: { seq: -1, at: 0 }, // the last pointerdown: the screen it landed on, and when
  armTimer: 0,
  dob: "",     // the challenge's digits keyed so far (DDMMYYYY); personal, cleared with the screen
};

// t returns the string id in the page's language.
function t(id) {
  const tr = STRINGS[page.lang] || STRINGS[DEFAULT_LANG];
  if (id in tr.t) return tr.t[id];
  return STRINGS[DEFAULT_LANG].t[id] || "";
}

function setLang(lang) {
  if (!(lang in STRINGS)) lang = DEFAULT_LANG;
  page.lang = lang;
  const root = document.documentElement;
  root.lang = lang;
  root.dir = STRINGS[lang].dir;
  for (const el of document.querySelectorAll("[data-t]")) {
    el.textContent = t(el.dataset.t);
  }
  $("lang-name").textContent = STRINGS[lang].name;
}

// show switches to a screen, clearing every personal field first: a field
// is filled again only by the frame that shows its screen.
function show(screen, msg) {
  // A screen this page does not know shows the neutral "One moment…".
  if (!SCREENS.includes(screen)) screen = "connecting";
  // Idle without a scanner asks for staff instead of a card: its own
  // section, the protocol's idle screen.
  const section = screen === "idle" && msg.reason === "scanner_unavailable" ? "no_scanner" : screen;
  wake();
  page.screen = screen;
  page.rev = screen !== "connecting" && typeof msg.rev === "number" ? msg.rev : 0;
  page.seq++;
  page.shownAt = performance.now();
  document.body.dataset.screen = screen;
  for (const sec of document.querySelectorAll("section[data-for]")) {
    sec.hidden = sec.dataset.for !== section;
  }
  for (const id of ["confirm-name", "success-code", "success-time", "success-notice", "success-appointment-time", "already-code", "already-time"]) {
    $(id).textContent = "";
  }
  $("success-notice").hidden = true;
  $("success-household").hidden = true;
  $("success-household-list").replaceChildren();
  page.dob = "";
  renderDob();
  $("idle-title").dataset.t = "idle_title";
  $("idle-title").textContent = t("idle_title");
  $("success-receipt").hidden = true;
  $("success-code").classList.remove("code-large");
  for (const el of document.querySelectorAll("[data-appointment]")) el.hidden = true;
  $("already-receipt").hidden = true;
  closePicker();

  switch (screen) {
    case "idle":
      if (Array.isArray(msg.household) && msg.household.length > 0) {
        $("idle-title").dataset.t = "idle_next_title";
        $("idle-title").textContent = t("idle_next_title");
      }
      break;
    case "confirm":
      $("confirm-name").textContent = msg.name || "";
      break;
    case "success":
      $("success-code").textContent = msg.code || "";
      $("success-time").textContent = formatTime(msg.at);
      if (msg.notice) {
        $("success-notice").textContent = msg.notice;
        $("success-notice").hidden = false;
      }
      if (msg.appointment) {
        $("success-appointment-time").textContent = formatTime(msg.appointment);
        for (const el of document.querySelectorAll("[data-appointment]")) el.hidden = false;
      }
      if (Array.isArray(msg.household) && msg.household.length > 1) {
        // A household: everyone checked in this session, with their codes.
        for (const m of msg.household) {
          const li = document.createElement("li");
          const name = document.createElement("span");
          name.textContent = m.name || "";
          const code = document.createElement("span");
          code.className = "household-code";
          code.textContent = m.code || "";
          li.append(name, code);
          $("success-household-list").append(li);
        }
        $("success-household").hidden = false;
      }
      if (["printing", "printed", "failed"].includes(msg.receipt)) {
        // A receipt that failed: the code is the person's only proof now.
        $("success-receipt").dataset.t = "receipt_" + msg.receipt;
        $("success-receipt").textContent = t("receipt_" + msg.receipt);
        $("success-receipt").hidden = false;
        $("success-code").classList.toggle("code-large", msg.receipt === "failed");
      }
      break;
    case "already":
      if (msg.code) {
        $("already-code").textContent = msg.code;
        $("already-time").textContent = formatTime(msg.at);
        $("already-receipt").hidden = false;
      }
      break;
    case "see_staff": {
      const key = "reason_" + (msg.reason || "unknown");
      $("reason").dataset.t = key in STRINGS[DEFAULT_LANG].t ? key : "reason_unknown";
      $("reason").textContent = t($("reason").dataset.t);
      break;
    }
  }

  arm(screen === "confirm" && typeof msg.armed_in_ms === "number" ? msg.armed_in_ms : 0);

  const online = screen !== "connecting";
  $("help-button").hidden = !online || screen === "help";
  $("lang-button").hidden = !online;
  $("audio-button").hidden = !online;
  page.deadline = online && typeof msg.expires_in_ms === "number" ? performance.now() + msg.expires_in_ms : 0;
  tick();
  cueScroll();
}

// cueScroll marks each box of the screen that scrolls by itself (the
// success screen's notice and household) with data-more while it holds
// more than it shows below: the style then shows a cue at its foot, so
// nothing is hidden without a sign that it is there.
function cueScroll() {
  for (const box of document.querySelectorAll(".scroll-box")) {
    box.toggleAttribute("data-more", box.scrollTop + box.clientHeight < box.scrollHeight - 1);
  }
}

// wake ends the screensaver and starts its wait again. A touch wakes the
// page, and so does every screen frame: the presence sensor wakes it by
// making the server send the idle screen afresh.
function wake() {
  document.body.classList.remove("saver");
  clearTimeout(page.saverTimer);
  page.saverTimer = setTimeout(() => {
    if (page.screen === "idle") document.body.classList.add("saver");
  }, SAVER_MS);
}

// arm holds the confirm screen's Yes and No for ms milliseconds: a confirm
// that replaced another person's does not take a tap aimed at the earlier
// name. The server does not count them before then either.
function arm(ms) {
  clearTimeout(page.armTimer);
  const hold = ms > 0;
  for (const b of document.querySelectorAll('section[data-for="confirm"] button[data-action]')) {
    b.disabled = hold;
  }
  if (hold) page.armTimer = setTimeout(() => arm(0), ms);
}

function formatTime(at) {
  if (!at) return "";
  const d = new Date(at);
  if (isNaN(d)) return "";
  try {
    return new Intl.DateTimeFormat(page.lang, {
      weekday: "long", day: "numeric", month: "long", hour: "numeric", minute: "2-digit",
    }).format(d);
  } catch (e) {
    return d.toLocaleString();
  }
}

// tick shows the timeout warning in the last seconds of a screen.
function tick() {
  const box = $("timeout");
  const left = page.deadline ? page.deadline - performance.now() : Infinity;
  if (left > WARN_MS || left <= 0) {
    box.hidden = true;
    return;
  }
  $("timeout-secs").textContent = String(Math.ceil(left / 1000));
  box.hidden = false;
}

// --- the websocket ---------------------------------------------------------

let ws = null;
let backoff = BACKOFF_MIN_MS;
let lastFrame = 0;

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/kiosk";
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => {
    backoff = BACKOFF_MIN_MS;
    lastFrame = performance.now();
  };
  sock.onmessage = (ev) => {
    lastFrame = performance.now();
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (!msg || msg.v !== PROTOCOL_VERSION) return;
    if (msg.type === "screen") {
      setLang(msg.lang || DEFAULT_LANG);
      show(msg.screen, msg);
    }
    // "pong" only proves the line is alive; "error" means this page sent
    // something the server does not take: nothing to show the person.
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    show("connecting", {});
    const delay = backoff / 2 + Math.random() * backoff / 2;
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    setTimeout(connect, delay);
  };
}

function send(frame) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  frame.v = PROTOCOL_VERSION;
  ws.send(JSON.stringify(frame));
}

function heartbeat() {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (performance.now() - lastFrame > SILENCE_MS) {
    ws.close(); // onclose reconnects
    return;
  }
  send({ type: "ping" });
}

// --- touch -----------------------------------------------------------------

function openPicker() {
  const list = $("lang-list");
  list.replaceChildren();
  for (const [code, tr] of Object.entries(STRINGS)) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-lang-choice";
    b.lang = code;
    b.dir = tr.dir;
    // The ring (ticked when chosen) from the page's template, then the
    // name in its own language and script.
    const name = document.createElement("span");
    name.textContent = tr.name;
    b.append($("lang-choice-icon").content.firstElementChild.cloneNode(true), name);
    if (code === page.lang) b.setAttribute("aria-pressed", "true");
    b.addEventListener("click", () => {
      closePicker();
      send({ type: "action", action: "language", lang: code, rev: page.rev });
    });
    list.append(b);
  }
  $("lang-picker").hidden = false;
}

function closePicker() {
  $("lang-picker").hidden = true;
}

// tap sends the action of a button, stamped with the rev of the screen on
// show: the server and the flow ignore it if that screen is gone by then.
// A tap that began before this screen was drawn (the finger was down, or
// the touch was queued behind the screen frame) was aimed at the screen
// before: it is not sent.
function tap(ev) {
  const key = ev.target.closest("[data-key]:not([data-action])");
  if (key) {
    keypad(key.dataset.key);
    return;
  }
  const b = ev.target.closest("[data-action]");
  if (!b || b.disabled) return;
  const action = b.dataset.action;
  if (ANSWERS.includes(action) && ev.detail > 0 && (page.down.seq !== page.seq || page.down.at < page.shownAt)) {
    return;
  }
  const frame = { type: "action", action: action, rev: page.rev };
  if (action === "answer") {
    // DDMMYYYY as keyed, sent as YYYY-MM-DD; cleared from the page as the
    // screen changes.
    const d = page.dob;
    frame.answer = d.slice(4, 8) + "-" + d.slice(2, 4) + "-" + d.slice(0, 2);
  }
  send(frame);
}

// keypad takes a key of the challenge's keypad: a digit, in order day,
// month, year, or "back". The date stays in the page until OK.
function keypad(k) {
  if (k === "back") {
    page.dob = page.dob.slice(0, -1);
  } else if (/^[0-9]$/.test(k) && page.dob.length < 8) {
    page.dob += k;
  }
  renderDob();
}

// renderDob shows the digits keyed so far, a dash for each still to come.
function renderDob() {
  const d = (page.dob || "").padEnd(8, "–");
  $("dob-day").textContent = d.slice(0, 2);
  $("dob-month").textContent = d.slice(2, 4);
  $("dob-year").textContent = d.slice(4, 8);
  $("dob-ok").disabled = (page.dob || "").length !== 8;
}

// speak reads the screen on show aloud, in the page's language, with the
// browser's speech synthesis (Chromium's voices come from speech-dispatcher:
// docs/HARDWARE.md). Personal fields are read too: they are the person's
// own, and this is their screen.
function speak() {
  if (!("speechSynthesis" in window)) return;
  const sec = document.querySelector("section[data-for]:not([hidden])");
  if (!sec) return;
  const parts = [];
  for (const el of sec.querySelectorAll("h1, h2, p, li, button")) {
    if (el.closest("[hidden]") || !el.textContent.trim()) continue;
    if (el.matches("[data-key]") && !el.matches("[data-action]")) continue; // the keypad's digits
    parts.push(el.textContent.trim());
  }
  speechSynthesis.cancel();
  const u = new SpeechSynthesisUtterance(parts.join(". "));
  u.lang = page.lang;
  const voice = speechSynthesis.getVoices().find((v) => v.lang.toLowerCase().startsWith(page.lang));
  if (voice) u.voice = voice;
  speechSynthesis.speak(u);
}

function init() {
  // Capture: the screen a gesture began on is noted before anything else
  // sees it.
  document.addEventListener("pointerdown", (ev) => {
    page.down = { seq: page.seq, at: ev.timeStamp };
    // The first touch on the screensaver only wakes the page: it must
    // not land on a button the person could not see.
    page.swallow = document.body.classList.contains("saver");
    wake();
  }, true);
  document.addEventListener("click", (ev) => {
    if (page.swallow) {
      page.swallow = false;
      ev.stopPropagation();
      ev.preventDefault();
    }
  }, true);
  document.addEventListener("click", tap);
  $("lang-button").addEventListener("click", openPicker);
  $("audio-button").addEventListener("click", speak);
  $("lang-close").addEventListener("click", closePicker);
  // Scroll events do not bubble: caught on the way down, from any box.
  document.addEventListener("scroll", cueScroll, { capture: true, passive: true });
  window.addEventListener("resize", cueScroll);
  // Touch only: no context menu, no dragging images or text away.
  for (const type of ["contextmenu", "dragstart", "selectstart"]) {
    document.addEventListener(type, (ev) => ev.preventDefault());
  }
  setLang(DEFAULT_LANG);
  show("connecting", {});
  setInterval(tick, 250);
  setInterval(heartbeat, PING_MS);
  loadCatalogs().then(() => {
    setLang(page.lang);
    connect();
  });
}

init();
