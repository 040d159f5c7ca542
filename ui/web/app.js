// The kiosk page: a thin view of the server's screen (ui/PROTOCOL.md).
//
// The server is the source of truth. This script renders the screen it is
// sent, sends what the person taps, keeps the websocket alive and
// reconnects when it drops. It keeps no state of its own beyond the
// screen on show, and clears personal data from the DOM when a screen is
// left.
"use strict";

// STRINGS is every word on the page, per language, keyed by id. A language
// is one entry: "name" in its own language (shown in the picker), "dir"
// ("ltr" or "rtl"), and the strings. A missing string falls back to
// English. Reasons are "reason_" + the kiosk.Reason code.
const STRINGS = {
  en: {
    name: "English",
    dir: "ltr",
    t: {
      one_moment: "One moment…",
      idle_title: "Scan your card",
      idle_hint: "Hold the square code on your card under the scanner light.",
      confirm_question: "Is this you?",
      confirm_yes: "Yes, this is me",
      confirm_no: "No, this is not me",
      success_title: "You are checked in",
      already_title: "You are already checked in today",
      code_label: "Your confirmation code",
      time_label: "Time of check-in",
      appointment_label: "Your next appointment",
      done: "Done",
      ok: "OK",
      another: "Check in another family member",
      see_staff_title: "Please see a staff member.",
      reason_card_expired: "This card has expired",
      reason_card_not_yet_valid: "This card cannot be used yet",
      reason_card_revoked: "This card is no longer valid",
      reason_card_unknown_issuer: "This card cannot be checked here",
      reason_card_bad_signature: "We could not confirm this card",
      reason_card_unreadable: "We could not read this card",
      reason_card_wrong_context: "This card cannot be used at this kiosk",
      reason_not_a_card: "This is not a check-in card",
      reason_lists_stale: "This kiosk cannot check cards right now",
      reason_person_denied: "You said this name is not yours",
      reason_record_failed: "Your check-in was not saved",
      reason_unknown: "We could not check you in here",
      help_title: "A staff member is coming",
      help_hint: "Please wait here.",
      back_to_start: "Back to start",
      oos_title: "This kiosk is not working right now",
      help_button: "I need help",
      choose_language: "Choose your language",
      close: "Close",
      timeout_warning: "This screen will close soon",
      more_time: "I need more time",
      no_scanner_title: "The card scanner is not working right now",
      receipt_printing: "Printing your receipt…",
      receipt_printed: "Take your receipt.",
      receipt_failed: "Your receipt could not print. Please write down your code.",
    },
  },
  es: {
    name: "Español",
    dir: "ltr",
    t: {
      one_moment: "Un momento…",
      idle_title: "Escanee su tarjeta",
      idle_hint: "Ponga el código cuadrado de su tarjeta bajo la luz del escáner.",
      confirm_question: "¿Es usted?",
      confirm_yes: "Sí, soy yo",
      confirm_no: "No, no soy yo",
      success_title: "Ya está registrado",
      already_title: "Usted ya se registró hoy",
      code_label: "Su código de confirmación",
      time_label: "Hora de registro",
      appointment_label: "Su próxima cita",
      done: "Terminar",
      ok: "Entendido",
      another: "Registrar a otro familiar",
      see_staff_title: "Por favor, hable con un empleado.",
      reason_card_expired: "Esta tarjeta está vencida",
      reason_card_not_yet_valid: "Esta tarjeta todavía no se puede usar",
      reason_card_revoked: "Esta tarjeta ya no es válida",
      reason_card_unknown_issuer: "Esta tarjeta no se puede revisar aquí",
      reason_card_bad_signature: "No pudimos confirmar esta tarjeta",
      reason_card_unreadable: "No pudimos leer esta tarjeta",
      reason_card_wrong_context: "Esta tarjeta no se puede usar en este quiosco",
      reason_not_a_card: "Esto no es una tarjeta de registro",
      reason_lists_stale: "Este quiosco no puede revisar tarjetas ahora",
      reason_person_denied: "Usted dijo que este nombre no es el suyo",
      reason_record_failed: "Su registro no se guardó",
      reason_unknown: "No pudimos registrarle aquí",
      help_title: "Un empleado viene a ayudarle",
      help_hint: "Por favor, espere aquí.",
      back_to_start: "Volver al inicio",
      oos_title: "Este quiosco no funciona ahora",
      help_button: "Necesito ayuda",
      choose_language: "Elija su idioma",
      close: "Cerrar",
      timeout_warning: "Esta pantalla se cerrará pronto",
      more_time: "Necesito más tiempo",
      no_scanner_title: "El lector de tarjetas no funciona ahora",
      receipt_printing: "Imprimiendo su recibo…",
      receipt_printed: "Tome su recibo.",
      receipt_failed: "No se pudo imprimir su recibo. Por favor, anote su código.",
    },
  },
};

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
const SCREENS = ["connecting", "idle", "no_scanner", "confirm", "success", "already", "see_staff", "help", "out_of_service"];

// The actions that answer the screen they were tapped on (kiosk.AnswersScreen):
// a tap begun on an earlier screen is not sent. Help and language apply to
// whatever is on screen.
const ANSWERS = ["confirm", "deny", "extend", "another", "done"];

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
  $("success-receipt").hidden = true;
  $("success-code").classList.remove("code-large");
  for (const el of document.querySelectorAll("[data-appointment]")) el.hidden = true;
  $("already-receipt").hidden = true;
  closePicker();

  switch (screen) {
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
  page.deadline = online && typeof msg.expires_in_ms === "number" ? performance.now() + msg.expires_in_ms : 0;
  tick();
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
    b.textContent = tr.name;
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
  const b = ev.target.closest("[data-action]");
  if (!b || b.disabled) return;
  const action = b.dataset.action;
  if (ANSWERS.includes(action) && ev.detail > 0 && (page.down.seq !== page.seq || page.down.at < page.shownAt)) {
    return;
  }
  send({ type: "action", action: action, rev: page.rev });
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
  $("lang-close").addEventListener("click", closePicker);
  // Touch only: no context menu, no dragging images or text away.
  for (const type of ["contextmenu", "dragstart", "selectstart"]) {
    document.addEventListener(type, (ev) => ev.preventDefault());
  }
  setLang(DEFAULT_LANG);
  show("connecting", {});
  setInterval(tick, 250);
  setInterval(heartbeat, PING_MS);
  connect();
}

init();
