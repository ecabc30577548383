// raspy web face: live values from /events (Server-Sent Events, no polling),
// switches and sliders posting to /api/device with the session's CSRF token.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  function show(value) {
    if (value === null || value === undefined) return "–";
    if (value === true) return "on";
    if (value === false) return "off";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const text = value.toFixed(2).replace(/\.?0+$/, "");
      return text === "-0" ? "0" : text;  // -0.001 is 0 to a person, as the server says
    }
    if (typeof value === "string") return value;
    return "…";
  }

  // times in the hub's zone (the page says which), as the server writes them
  const ZONE = document.body.dataset.tz || "UTC";
  let DAY = null;
  let CLOCK = null;
  try {
    DAY = new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" });
    CLOCK = new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  } catch (error) {
    // a zone Python knows and this browser does not (posix/Europe/Paris, right/UTC,
    // a name newer than the phone): the times keep the page's text, and the rest
    // of the script (switches, sliders, live values) still runs
  }

  function showTime(epochS) {
    if (CLOCK === null) return null;  // the zone is unknown here: left as it is
    if (typeof epochS !== "number") return "never";
    const when = new Date(epochS * 1000);
    // a time no Date holds (any tree client may write one) would throw, and stop the
    // batch; past year 9999 the server cannot write it either: both say so
    const year = when.getUTCFullYear();
    if (Number.isNaN(when.getTime()) || year < 1 || year > 9999) return "out of range";
    const day = DAY.format(when);
    const clock = CLOCK.format(when);
    const mark = repeatedHourOffset(when, day, clock);
    if (day === DAY.format(new Date())) return clock + mark;
    return day + " " + clock.slice(0, 5) + mark;
  }

  // the zone's offset from UTC at `when`, in minutes: its wall clock (`day` and
  // `clock`, as DAY and CLOCK write it) read as UTC
  function offsetMinutes(when, day, clock) {
    const [year, month, date] = day.split("-").map(Number);
    const [hour, minute, second] = clock.split(":").map(Number);
    const wall = Date.UTC(year, month - 1, date, hour, minute, second);
    return Math.round((wall - Math.floor(when.getTime() / 1000) * 1000) / 60000);
  }

  // " UTC-4" for a time in the hour an autumn night goes through twice, which
  // tells its two passes apart; "" for every other time (as html.show_time).
  // `day` and `clock`: `when` as DAY and CLOCK write it, already made by the caller
  function repeatedHourOffset(when, day, clock) {
    const offset = offsetMinutes(when, day, clock);
    const wall = day + " " + clock;
    for (const hours of [-3, 3]) {  // a change of the clocks within 3 h
      const probe = new Date(when.getTime() + hours * 3600000);
      const other = offsetMinutes(probe, DAY.format(probe), CLOCK.format(probe));
      const twin = new Date(when.getTime() + (offset - other) * 60000);
      if (other !== offset && DAY.format(twin) + " " + CLOCK.format(twin) === wall) {
        const sign = offset < 0 ? "-" : "+";
        const rest = Math.abs(offset) % 60;
        const hoursText = String(Math.floor(Math.abs(offset) / 60));
        return " UTC" + sign + hoursText + (rest ? ":" + String(rest).padStart(2, "0") : "");
      }
    }
    return "";
  }

  // a scenario's last_trigger in words, as the server writes it (models.trigger_text)
  function triggerText(trigger) {
    if (!trigger || typeof trigger !== "object" || Array.isArray(trigger)) return "–";
    const kind = typeof trigger.kind === "string" && trigger.kind ? trigger.kind : "?";
    const parts = [typeof trigger.id === "string" && trigger.id ? kind + " (" + trigger.id + ")" : kind];
    if (typeof trigger.key === "string" && trigger.key) parts.push(trigger.key + " = " + show(trigger.value));
    if (typeof trigger.by === "string" && trigger.by) parts.push("by " + trigger.by);
    if (trigger.tried === true) parts.push("tried by hand");
    return parts.join(", ");
  }

  // a device's status and unit, a scenario's state and count of runs, as the
  // server reads them (models.py): a status or state that is no text is unknown,
  // a unit that is no text none, a count that is no whole number 0
  function statusText(value) { return typeof value === "string" ? value : "unknown"; }
  function unitText(value) { return typeof value === "string" ? value : ""; }
  function countText(value) { return Number.isInteger(value) ? show(value) : "0"; }

  // one CSS class word of any text a tree client wrote (as the server makes them)
  function cssWord(value) {
    return String(value).toLowerCase().slice(0, 40).replace(/[^a-z0-9_-]/g, "-");
  }

  // the keys of the page's controls: they come from the config and do not change
  // while the page is open, so a device's reading looks for no control
  const CONTROL_KEYS = new Set(Array.from(document.querySelectorAll("li.control"), function (li) {
    return li.dataset.controlKey;
  }));

  // a control of the Devices page (its value, its widget) as the tree has it
  function applyControl(key, value) {
    document.querySelectorAll('li.control[data-control-key="' + CSS.escape(key) + '"]').forEach(function (li) {
      li.querySelector(".control-value").textContent = show(value);
      // a unit only beside a number ("warm °C" read as one), and a number's field
      // keeps what it holds when the tree's value is none ("warm", written elsewhere)
      const number = typeof value === "number";
      const unit = li.querySelector(".unit");
      if (unit) unit.hidden = !number;
      const input = li.querySelector(".control-input");
      const fits = li.dataset.kind !== "number" || number;
      if (input && document.activeElement !== input && fits) {
        input.value = value === null || value === undefined ? "" : String(value);
      }
      const toggle = li.querySelector("button.switch");
      if (toggle) {
        toggle.setAttribute("aria-checked", value === true ? "true" : "false");
        toggle.value = value === true ? "false" : "true";
      }
      li.querySelectorAll("button.choice").forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.value === value));
      });
    });
  }

  // a value that breaks its control (written by a scenario or raspy-kv) is marked
  // with the sentence the server gives (its `control` event): the server judges
  function markControl(key, reason) {
    document.querySelectorAll('li.control[data-control-key="' + CSS.escape(key) + '"]').forEach(function (li) {
      const bad = typeof reason === "string" && reason !== "";
      li.classList.toggle("bad", bad);
      const note = li.querySelector(".bad-value");
      if (note) note.textContent = bad ? reason : "";
    });
  }

  function apply(key, value) {
    if (CONTROL_KEYS.has(key)) applyControl(key, value);
    document.querySelectorAll('[data-key="' + CSS.escape(key) + '"]').forEach(function (el) {
      if (el.classList.contains("switch")) {
        el.setAttribute("aria-checked", value === true ? "true" : "false");
        // where it was headed: the change it held has come (or the same one from
        // elsewhere); a value as it was (the stream's first batch) changes nothing
        if (el.dataset.heading === String(value === true)) clearPending(el);
      } else if (el.classList.contains("dimmer")) {
        if (typeof value === "number") el.dataset.level = String(Math.round(value));
        if (document.activeElement !== el && typeof value === "number") el.value = String(Math.round(value));
      } else if (el.tagName === "TIME") {
        // a clock's value: a time, or a dash for none (a timestamp: "never")
        const none = el.classList.contains("value") && typeof value !== "number";
        const text = none ? show(value) : showTime(value);
        if (text !== null) el.textContent = text;
        // a next fire: which trigger it was is known for the page's time only
        const what = el.parentElement.querySelector(".fire-what");
        if (what && el.dataset.at !== undefined && value !== Number(el.dataset.at)) what.textContent = "";
      } else if (el.classList.contains("trigger")) {
        el.textContent = triggerText(value);
      } else if (el.classList.contains("status") || el.classList.contains("state")) {
        el.textContent = statusText(value);
      } else if (el.classList.contains("unit")) {
        el.textContent = unitText(value);
      } else if (el.classList.contains("runs")) {
        el.textContent = countText(value);
      } else {
        // an empty last error (the key written so by hand: a run that went well
        // keeps the last failure's reason) is none, a dash, as the page writes it,
        // in the plain colour: red only for an error to tell
        const lastError = el.classList.contains("last-error");
        const none = lastError && (typeof value !== "string" || value === "");
        if (lastError) el.classList.toggle("error-text", !none);
        el.textContent = show(none ? null : value);
      }
    });
    if (key.endsWith("/pending")) {
      // what a switch's device holds, from the tree: every browser sees it, not
      // only the one whose click was held; deleted once carried out or dropped
      document.querySelectorAll('[data-pending-key="' + CSS.escape(key) + '"]').forEach(function (el) {
        if (value && typeof value === "object" && typeof value.due === "number") {
          const inS = Math.max(0, value.due - Date.now() / 1000);
          showPending(el, { state: value.state, in_s: inS, detail: value.detail });
        } else {
          clearPending(el);
        }
      });
    }
    if (key.endsWith("/status")) {
      document.querySelectorAll('[data-status-key="' + CSS.escape(key) + '"]').forEach(function (el) {
        el.className = el.className.replace(/\bstatus-\S+/, "status-" + cssWord(statusText(value)));
      });
    }
    if (key.startsWith("/scenario/") && key.endsWith("/state")) {
      // its colour follows the state too (a run that ended is no longer green)
      document.querySelectorAll('.state[data-key="' + CSS.escape(key) + '"]').forEach(function (el) {
        el.className = "state state-" + cssWord(statusText(value));
      });
    }
  }

  function connect() {
    const source = new EventSource("/events");
    // each connection's first batch is every live key the tree holds: a key that
    // went while the page was away (a phone asleep, raspyd restarted) is gone: a
    // switch's held change (not left counting down), a control's value, a
    // device's reading or a scenario's entry (none, as the page's load says it)
    let fresh = false;
    source.addEventListener("open", function () { fresh = true; });
    source.addEventListener("kv", function (event) {
      const changes = JSON.parse(event.data);
      Object.keys(changes).forEach(function (key) { apply(key, changes[key]); });
      if (fresh) {
        document.querySelectorAll("[data-pending-key]").forEach(function (el) {
          if (!(el.dataset.pendingKey in changes)) clearPending(el);
        });
        CONTROL_KEYS.forEach(function (key) {
          if (!(key in changes)) { applyControl(key, null); markControl(key, null); }
        });
        const gone = new Set();
        document.querySelectorAll("[data-key]").forEach(function (el) {
          if (!(el.dataset.key in changes)) gone.add(el.dataset.key);
        });
        gone.forEach(function (key) { apply(key, null); });
      }
      fresh = false;
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    });
    source.addEventListener("control", function (event) {
      const reasons = JSON.parse(event.data);
      Object.keys(reasons).forEach(function (key) { markControl(key, reasons[key]); });
    });
    source.addEventListener("reload", function () { window.location.reload(); });
    // closed for good: raspyd answered 401 (the session ended or was logged out),
    // or something else than raspyd answered (a proxy's 502 while raspyd
    // restarts), and the browser does not try again; the page would show values
    // that no longer change. Reloaded once the hub answers, it leads to the login
    // form, or is the page again: not the proxy's error page, left there for good.
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) window.setTimeout(reloadWhenBack, 2000);
    });
  }

  function reloadWhenBack() {
    fetch(window.location.href, { method: "HEAD", credentials: "same-origin" }).then(function (response) {
      if (response.status >= 500) throw new Error("the hub is away");
      window.location.reload();
    }).catch(function () { window.setTimeout(reloadWhenBack, 5000); });
  }

  // fetch's own failure (offline, the hub down, the Wi-Fi gone): the browser's
  // words ("Failed to fetch", "NetworkError when…") tell a household nothing
  const NO_ANSWER = "No answer from the hub: check the connection and try again.";
  function unreachable() { throw new Error(NO_ANSWER); }

  function errorBox(el) {
    const item = el.closest("li, p");
    return item ? item.querySelector(".error") : null;
  }

  // a wait as said under a switch: "40 s", "5 min", "1.5 h" (rounded up, to whole
  // seconds first: 59.5 s is "1 min", as 60 s is, not "60 s")
  function waitText(seconds) {
    seconds = Math.ceil(seconds);
    if (seconds < 60) return seconds + " s";
    if (seconds < 5400) return Math.ceil(seconds / 60) + " min";
    return (Math.ceil(seconds / 360) / 10) + " h";
  }

  // A switch held by its min_on_s / min_off_s answers with what it holds, and its
  // device says it in the tree (`…/pending`, for every browser): said under it
  // ("on in 5 min", the device's reason on hover), counting down as the time
  // passes, until the switch gets there, the key goes, or a while after its time.
  // A click meanwhile goes from the state it is headed for: a second one cancels it.
  function showPending(el, pending) {
    const box = errorBox(el);
    clearPending(el);
    el.dataset.heading = String(pending.state === true);
    const inS = Math.min(Number(pending.in_s) || 0, 86400);
    const until = Date.now() + inS * 1000;
    const word = pending.state === true ? "on" : "off";
    function tell() {
      if (box) box.textContent = word + " in " + waitText(Math.max(0, (until - Date.now()) / 1000));
    }
    if (box) {
      tell();
      box.title = typeof pending.detail === "string" ? pending.detail : "";
      box.classList.add("pending");
    }
    el._pendingTick = window.setInterval(tell, 1000);
    el._pendingTimer = window.setTimeout(function () { clearPending(el); }, (inS + 10) * 1000);
  }

  function clearPending(el) {
    if (el._pendingTimer) window.clearTimeout(el._pendingTimer);
    if (el._pendingTick) window.clearInterval(el._pendingTick);
    el._pendingTimer = null;
    el._pendingTick = null;
    if (el.dataset.heading === undefined) return;
    delete el.dataset.heading;
    const box = errorBox(el);
    if (box && box.classList.contains("pending")) {
      box.textContent = "";
      box.title = "";
      box.classList.remove("pending");
    }
  }

  function send(el, action, value) {
    const box = errorBox(el);
    clearPending(el);
    if (box) box.textContent = "";
    const body = { service: el.dataset.service, device: el.dataset.device, action: action };
    if (value !== undefined) body.value = value;
    return fetch("/api/device", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (response) {
      // a refusal before the handler (403 CSRF, 413) is plain text: said as it is,
      // not as a JSON syntax error
      return response.text().then(function (text) {
        let reply;
        try { reply = JSON.parse(text); } catch (error) { reply = { error: text.slice(0, 200) }; }
        if (!response.ok) throw new Error(reply.error || ("HTTP " + response.status));
        const answer = reply.reply || {};
        if (answer.reading && "value" in answer.reading && el.dataset.key) {
          apply(el.dataset.key, answer.reading.value);
        }
        if (answer.pending && typeof answer.pending === "object") showPending(el, answer.pending);
        if (typeof answer.log === "boolean") {
          el.setAttribute("aria-checked", String(answer.log));
          // the note that asked for it, above, is done with
          if (answer.log) document.querySelectorAll("[data-unrecorded]").forEach(function (note) { note.remove(); });
        }
      });
    }, unreachable).catch(function (error) {
      if (box) box.textContent = String(error.message || error);
      // a slider whose move failed (offline, refused) goes back to the device's level
      if (el.classList.contains("dimmer")) el.value = el.dataset.level || el.defaultValue;
    });
  }

  // a control's form: sent by fetch, its answer or refusal shown in place
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.classList || !form.classList.contains("control-form")) return;
    event.preventDefault();
    const li = form.closest("li");
    const box = li.querySelector(".error");
    const body = new URLSearchParams(new FormData(form));
    // the button that sent it (a switch's, a choice's) carries the value; a browser
    // without SubmitEvent.submitter (Safari before 15.4) has the one clicked
    const submitter = "submitter" in event ? event.submitter : form._clicked;
    form._clicked = null;
    if (submitter && submitter.name) body.set(submitter.name, submitter.value);
    box.textContent = "";
    fetch("/api/control", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: body.toString(),
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (text) {
        let reply;
        try { reply = JSON.parse(text); } catch (error) { reply = { error: text.slice(0, 200) }; }
        if (!response.ok) throw new Error(reply.error || ("HTTP " + response.status));
        applyControl(reply.key, reply.value);
        markControl(reply.key, null);  // checked by the server: it fits
      });
    }, unreachable).catch(function (error) {
      box.textContent = String(error.message || error);
    });
  });

  document.addEventListener("click", function (event) {
    const clicked = event.target.closest("form.control-form button[name]");
    if (clicked) clicked.form._clicked = clicked;
  });

  document.addEventListener("click", function (event) {
    const el = event.target.closest("button.switch:not([name])");
    if (!el) return;
    // from the state it is headed for: a change it holds, else the one it shows
    const heading = el.dataset.heading !== undefined
      ? el.dataset.heading === "true"
      : el.getAttribute("aria-checked") === "true";
    send(el, el.dataset.action || "set", !heading);
  });

  document.addEventListener("change", function (event) {
    const el = event.target;
    if (el.classList && el.classList.contains("dimmer")) send(el, "set", Number(el.value));
  });

  if (document.body.dataset.live === "1" && window.EventSource) connect();
})();

// the scenario editor: the cursor at the first problem's line (and at any problem
// clicked); without JavaScript the list of problems says the lines
(function () {
  const area = document.querySelector("form.editor textarea");
  if (!area) return;
  function goTo(line, col) {
    const lines = area.value.split("\n");
    const row = Math.min(Math.max(line, 1), lines.length);
    let offset = 0;
    for (let i = 0; i < row - 1; i++) offset += lines[i].length + 1;
    offset += Math.min(Math.max(col - 1, 0), lines[row - 1].length);
    area.focus();
    area.setSelectionRange(offset, offset);
    const height = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (row - 3) * height);
  }
  if (area.dataset.line) goTo(Number(area.dataset.line), Number(area.dataset.col || 1));
  document.addEventListener("click", function (event) {
    const link = event.target.closest("ol.problems a[data-line]");
    if (!link) return;
    event.preventDefault();
    goTo(Number(link.dataset.line), Number(link.dataset.col || 1));
  });
})();

// the editor's draft, kept in this tab (sessionStorage, by the form's action) from
// each Check or Save until the text is saved (the server marks the page that says
// so with data-saved) or the user leaves the editor by one of the page's links or
// other forms (Cancel, the menu, Log out): a Save answered by the login form (the
// session expired or was ended) or by a bare 403 (a login in another tab changed
// the CSRF token) left the page, and the edit page fetched again holds the stored
// text. When a draft differs from it, a button restores it.
(function () {
  let store = null;
  try { store = window.sessionStorage; } catch (error) { return; }  // not allowed here
  if (!store) return;
  const PREFIX = "raspy-draft:";
  const NEW = PREFIX + "/new-scenario";
  function saved(key, text) {
    store.removeItem(key);
    if (store.getItem(NEW) === text) store.removeItem(NEW);  // saved as a new one
  }
  // the scenario's page after a Save ("saved: NAME", or "No change: …")
  const shown = document.querySelector("pre.document");
  if (shown && document.querySelector("main > p.notice[data-saved]")) {
    saved(PREFIX + window.location.pathname + "/edit", shown.textContent);
  }
  const form = document.querySelector("form.editor");
  const area = form ? form.querySelector("textarea") : null;
  if (!area) return;
  const key = PREFIX + form.getAttribute("action");
  if (form.dataset.saved !== undefined) saved(key, area.value);  // saved, with warnings
  form.addEventListener("submit", function () {
    try { store.setItem(key, area.value); } catch (error) { /* full: the page goes on */ }
  });
  // left on purpose: the text checked or refused here is not worth offering again
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    if (link.target || link.getAttribute("href").startsWith("#")) return;
    store.removeItem(key);
  });
  document.addEventListener("submit", function (event) {
    if (event.target !== form) store.removeItem(key);
  });
  const draft = store.getItem(key);
  if (draft === null || draft === area.value) return;
  const restore = document.createElement("button");
  restore.type = "button";
  restore.className = "restore";
  restore.textContent = "Restore your unsaved text";
  restore.addEventListener("click", function () {
    area.value = draft;
    restore.remove();
    area.focus();
  });
  form.insertBefore(restore, form.querySelector("label"));
})();
