// The kiosk's memory lasts one visit.
//
// After `idleSeconds` without a touch, a "Still there?" dialog counts down
// `countdownSeconds`; any touch or key continues the visit, otherwise the
// kiosk resets: every page part registered with `onReset` wipes what it
// shows, the screen blanks at once, and a POST to the reset view starts a new
// session (the previous visitor's jobs are no longer this kiosk's) in German.
// While a generation runs the timer is held: a visitor watching the progress
// is not idle.

const config = JSON.parse(document.getElementById("kiosk-config").textContent);
const ACTIVITY_EVENTS = ["pointerdown", "pointermove", "keydown", "input", "wheel", "scroll"];
const wipers = [];

class IdleTimer {
  constructor({ idleSeconds, countdownSeconds }) {
    this.idleMs = idleSeconds * 1000;
    this.countdownSeconds = countdownSeconds;
    this.dialog = document.getElementById("idle-dialog");
    this.secondsLabel = document.getElementById("idle-seconds");
    this.holds = 0;
    this.timer = null;
    this.ticker = null;
    this.armed = false;
  }

  arm() {
    if (this.armed) return;
    this.armed = true;
    const onActivity = () => this.activity();
    for (const name of ACTIVITY_EVENTS) {
      document.addEventListener(name, onActivity, { capture: true, passive: true });
    }
    document.getElementById("idle-continue").addEventListener("click", () => this.continueVisit());
    this.dialog.addEventListener("cancel", (event) => {
      event.preventDefault(); // Escape means "still here", like the button
      this.continueVisit();
    });
    this.restart();
  }

  /** Keep the kiosk from resetting until the returned function is called. */
  hold() {
    this.holds += 1;
    clearTimeout(this.timer);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds -= 1;
      this.restart();
    };
  }

  activity() {
    if (!this.dialog.open) this.restart();
  }

  continueVisit() {
    clearInterval(this.ticker);
    if (this.dialog.open) this.dialog.close();
    this.restart();
  }

  restart() {
    clearTimeout(this.timer);
    if (this.armed && this.holds === 0) {
      this.timer = setTimeout(() => this.askStillThere(), this.idleMs);
    }
  }

  askStillThere() {
    let remaining = this.countdownSeconds;
    this.secondsLabel.textContent = String(remaining);
    this.dialog.showModal();
    clearInterval(this.ticker);
    this.ticker = setInterval(() => {
      remaining -= 1;
      this.secondsLabel.textContent = String(Math.max(remaining, 0));
      if (remaining <= 0) {
        clearInterval(this.ticker);
        resetKiosk();
      }
    }, 1000);
  }
}

export const idle = new IdleTimer(config);

/** `wipe()` runs when the kiosk resets: clear whatever of the visitor this part shows. */
export function onReset(wipe) {
  wipers.push(wipe);
}

/** End the visit now: wipe the screen, forget the browser-side state, start a new session. */
export function resetKiosk() {
  document.body.classList.add("is-resetting");
  for (const wipe of wipers) {
    try {
      wipe();
    } catch (error) {
      console.error("kiosk reset", error);
    }
  }
  try {
    window.sessionStorage.clear();
  } catch (error) {
    // storage unavailable (private mode): nothing was kept there
  }
  document.getElementById("kiosk-reset").submit();
}

export function kioskConfig() {
  return config;
}

function init() {
  for (const button of document.querySelectorAll("[data-kiosk-reset]")) {
    button.addEventListener("click", () => resetKiosk());
  }
  // The start screen in the default language has nothing to forget.
  const onStart = document.body.classList.contains("kiosk-start");
  if (!onStart || config.language !== config.defaultLanguage) idle.arm();
  // A page restored from the back/forward cache may still show a previous visit.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });
}

init();
