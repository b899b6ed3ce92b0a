// The curators' review desk (gallery/desk.py): one pending creation at a time.
//
// Keys (also buttons): A approve, R reject (a reason from the curators' list by its
// number, a note, Enter), F approve and feature, S skip (it comes back at the end),
// U undo the last decision (for a few seconds), O the painted outline on or off.
// The single-key shortcuts can be turned off (WCAG 2.1.4); the choice is remembered.
//
// The next creation appears at once: the desk holds a few creations ahead, oldest
// first, and loads and decodes their pictures and outlines before they are due
// (PREFETCH of them); a decision is sent in the background while the next one is
// already shown. A decision the server refuses (another curator was quicker) is
// said in the status line; one that could not be sent comes back next.
// `window.deskTimings` records, per creation shown, the milliseconds from the key
// (or button) to the first frame painted with it: benchmarks/bench_desk.py reads
// them. `?prefetch=0` turns the prefetching off, for that benchmark's comparison.

const { gettext, ngettext, interpolate } = window;

const config = JSON.parse(document.getElementById("desk-config").textContent);
const PREFETCH = Number(new URLSearchParams(location.search).get("prefetch") ?? 3);
const HOLD_AHEAD = 6; // creations asked for ahead of the one shown
const KEYS = { a: "approve", r: "reject", f: "feature", s: "skip", u: "undo", o: "outline" };
const SVG = "http://www.w3.org/2000/svg";
const KEYS_OFF = "olpe.desk.keys-off"; // the curator turned the single-key shortcuts off

const byId = (id) => document.getElementById(id);

class Desk {
  constructor() {
    this.root = byId("desk");
    this.queue = config.creations.slice(); // the creations ahead, oldest first
    this.later = []; // skipped: shown again once the queue is done
    this.current = null;
    this.pending = config.pending;
    this.inFlight = new Map(); // id -> the decision's promise
    this.prepared = new Map(); // id -> promise of loaded pictures and outline
    this.last = null; // {entry, kind, promise, until}: what U undoes
    this.fetching = null;
    this.outline = true;
    this.timings = [];
    window.deskTimings = this.timings;
  }

  start() {
    for (const button of this.root.querySelectorAll(".desk-actions [data-action]")) {
      button.addEventListener("click", (event) => this.act(button.dataset.action, event.timeStamp));
    }
    document.addEventListener("keydown", (event) => this.key(event));
    this.keys = byId("desk-keys");
    this.keys.checked = localStorage.getItem(KEYS_OFF) !== "1";
    this.keys.addEventListener("change", () => {
      localStorage.setItem(KEYS_OFF, this.keys.checked ? "0" : "1");
    });
    byId("desk-reload").addEventListener("click", () => this.refill(true));
    this.dialog = new ReasonDialog(config.reasons);
    this.showNext(performance.now());
  }

  // --- input ---------------------------------------------------------------------

  key(event) {
    if (!this.keys.checked) return; // turned off: a screen reader's own keys stay free
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (this.dialog.isOpen() || typingIn(event.target)) return;
    const action = KEYS[event.key.toLowerCase()];
    if (!action) return;
    event.preventDefault();
    this.act(action, event.timeStamp);
  }

  act(action, startedAt) {
    if (action === "outline") this.toggleOutline();
    else if (action === "undo") this.undo(startedAt);
    else if (!this.current) return;
    else if (action === "skip") this.skip(startedAt);
    else if (action === "reject") this.askReason(startedAt);
    else this.decide(action, "", startedAt);
  }

  // --- deciding ------------------------------------------------------------------

  async askReason() {
    const entry = this.current;
    const reason = await this.dialog.ask();
    if (reason === null || entry !== this.current) return; // cancelled, or moved on meanwhile
    this.decide("reject", reason, performance.now());
  }

  decide(action, reason, startedAt) {
    const entry = this.current;
    const promise = this.send(entry, action, reason);
    this.remember(entry, action, promise);
    this.pending = Math.max(0, this.pending - 1);
    this.say(interpolate(decidedText(action), { wish: shortWish(entry) }, true));
    this.showNext(startedAt);
  }

  async send(entry, action, reason) {
    this.inFlight.set(entry.id, null);
    try {
      const answer = await post(config.urls.decide, { id: entry.id, action, reason });
      if (answer.ok) {
        this.pending = answer.body.pending;
        this.updateCount();
        return answer.body.undo;
      }
      this.say(answer.body.detail?.[0]?.message || gettext("The decision was not saved."), true);
      if (answer.status >= 500) this.queue.unshift(entry); // not decided: it comes next
      return null;
    } catch (error) {
      this.say(gettext("The decision could not be sent. The creation comes again."), true);
      this.queue.unshift(entry);
      return null;
    } finally {
      this.inFlight.delete(entry.id);
    }
  }

  skip(startedAt) {
    const entry = this.current;
    this.later.push(entry);
    this.remember(entry, "skip", Promise.resolve(null));
    this.say(interpolate(gettext("Skipped: %(wish)s. It comes again at the end."),
      { wish: shortWish(entry) }, true));
    this.showNext(startedAt);
  }

  remember(entry, kind, promise) {
    clearTimeout(this.last?.timer);
    const until = performance.now() + config.undo_seconds * 1000;
    this.last = { entry, kind, promise, until, timer: setTimeout(() => this.forgetUndo(), config.undo_seconds * 1000) };
    this.undoButton().disabled = false;
  }

  forgetUndo() {
    this.last = null;
    this.undoButton().disabled = true;
  }

  async undo(startedAt) {
    const last = this.last;
    if (!last || performance.now() > last.until) return;
    this.forgetUndo();
    if (last.kind === "skip") {
      this.later = this.later.filter((entry) => entry !== last.entry);
      this.bringBack(last.entry, startedAt);
      return;
    }
    const token = await last.promise;
    if (!token) return; // it was never decided
    try {
      const answer = await post(config.urls.undo, { undo: token });
      if (!answer.ok) {
        this.say(answer.body.detail?.[0]?.message || gettext("The decision could not be undone."), true);
        return;
      }
      this.pending = answer.body.pending;
      this.say(interpolate(gettext("Undone: %(wish)s is waiting again."),
        { wish: shortWish(last.entry) }, true));
      if (answer.body.creation) this.bringBack(answer.body.creation, startedAt);
    } catch (error) {
      this.say(gettext("The decision could not be undone."), true);
    }
  }

  /** Show `entry` again now; what was on screen comes right after it. */
  bringBack(entry, startedAt) {
    if (this.current) this.queue.unshift(this.current);
    this.queue = this.queue.filter((other) => other.id !== entry.id);
    this.queue.unshift(entry);
    this.current = null;
    this.showNext(startedAt);
  }

  // --- showing -------------------------------------------------------------------

  async showNext(startedAt) {
    if (!this.queue.length) await this.refill(false);
    if (!this.queue.length && this.later.length) {
      this.queue = this.later;
      this.later = [];
      this.say(gettext("Now the skipped creations, once more."));
    }
    const entry = this.queue.shift() || null;
    this.current = entry;
    if (!entry) {
      this.showEmpty();
      return;
    }
    const prepared = await this.prepare(entry);
    if (this.current !== entry) return; // the curator moved on while it loaded
    this.render(entry, prepared);
    requestAnimationFrame(() => requestAnimationFrame(() => {
      this.timings.push({ id: entry.id, ms: performance.now() - startedAt });
      this.root.dataset.shown = String(entry.id); // tests wait on it
    }));
    for (const next of this.queue.slice(0, PREFETCH)) this.prepare(next);
    if (this.queue.length < HOLD_AHEAD / 2) this.refill(false);
  }

  /** The creation's pictures, loaded and decoded, and its outline: once per creation. */
  prepare(entry) {
    if (!this.prepared.has(entry.id)) {
      const picture = (url, alt) => {
        const image = new Image();
        image.alt = alt;
        image.src = url;
        return image.decode().then(() => image, () => image);
      };
      this.prepared.set(entry.id, Promise.all([
        picture(entry.urls.before, byId("desk-before").alt),
        picture(entry.urls.after, byId("desk-after").alt),
        picture(entry.urls.overview, byId("desk-overview").alt),
        fetch(entry.urls.outline, { credentials: "same-origin" })
          .then((response) => (response.ok ? response.json() : { polygons: [] }))
          .then((body) => body.polygons, () => []),
      ]).then(([before, after, overview, polygons]) => ({ before, after, overview, polygons })));
    }
    return this.prepared.get(entry.id);
  }

  render(entry, prepared) {
    this.setEmpty(false);
    swapImage("desk-before", prepared.before);
    swapImage("desk-after", prepared.after);
    swapImage("desk-overview", prepared.overview);
    const [left, top, right, bottom] = entry.frame.box;
    const [width, height] = entry.frame.size;
    for (const id of ["desk-before-outline", "desk-after-outline"]) {
      drawOutline(byId(id), prepared.polygons, `${left} ${top} ${right - left} ${bottom - top}`);
    }
    const box = byId("desk-overview-box");
    box.setAttribute("x", String((100 * left) / width));
    box.setAttribute("y", String((100 * top) / height));
    box.setAttribute("width", String((100 * (right - left)) / width));
    box.setAttribute("height", String((100 * (bottom - top)) / height));
    byId("desk-wish").textContent = `„${entry.wish}“`;
    fill("desk-translation", entry.translation !== entry.wish ? entry.translation : "");
    fill("desk-prompt", entry.prompt);
    fill("desk-title", entry.title);
    fill("desk-name", entry.name ? (entry.consent ? entry.name
      : interpolate(gettext("%(name)s (not to be shown)"), { name: entry.name }, true)) : "");
    fill("desk-world", entry.world);
    fill("desk-engine", entry.engine);
    fill("desk-time", `${entry.created_text} · ${entry.waiting_text}`);
    byId("desk-change-link").href = entry.urls.change;
    this.prepared.delete(entry.id); // its elements are on the page now
    this.updateCount();
  }

  showEmpty() {
    this.setEmpty(true);
    this.root.dataset.shown = "";
    this.updateCount();
  }

  setEmpty(empty) {
    this.root.dataset.state = empty ? "empty" : "review";
    byId("desk-review").hidden = empty;
    byId("desk-empty").hidden = !empty;
    for (const action of ["approve", "reject", "feature", "skip"]) {
      this.root.querySelector(`[data-action=${action}]`).disabled = empty;
    }
  }

  async refill(showWhenFound) {
    if (!this.fetching) {
      const held = [this.current, ...this.queue, ...this.later].filter(Boolean).map((e) => e.id);
      const exclude = [...held, ...this.inFlight.keys()].join(",");
      const url = `${config.urls.queue}?limit=${HOLD_AHEAD}&exclude=${exclude}`;
      this.fetching = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : null))
        .then((body) => {
          if (!body) return;
          const known = new Set([this.current, ...this.queue, ...this.later].filter(Boolean)
            .map((entry) => entry.id));
          this.queue.push(...body.creations.filter((entry) => !known.has(entry.id)));
          this.pending = body.pending;
          this.updateCount();
        }, () => {})
        .finally(() => { this.fetching = null; });
    }
    await this.fetching;
    if (showWhenFound && !this.current) this.showNext(performance.now());
  }

  toggleOutline() {
    this.outline = !this.outline;
    this.root.classList.toggle("hide-outline", !this.outline);
    this.root.querySelector("[data-action=outline]").setAttribute("aria-pressed", String(this.outline));
  }

  updateCount() {
    byId("desk-count").textContent = interpolate(
      ngettext("%(count)s creation waits for review.", "%(count)s creations wait for review.",
        this.pending), { count: this.pending }, true);
  }

  undoButton() {
    return this.root.querySelector("[data-action=undo]");
  }

  say(text, problem = false) {
    const line = byId("desk-status");
    line.textContent = text;
    line.classList.toggle("is-problem", problem);
  }
}

// --- the reasons for rejection ---------------------------------------------------

class ReasonDialog {
  constructor(reasons) {
    this.dialog = byId("desk-reject-dialog");
    this.text = byId("desk-reason-text");
    const fieldset = byId("desk-reasons");
    this.radios = reasons.slice(0, 9).map((reason, index) => {
      const label = document.createElement("label");
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "desk-reason";
      radio.value = reason;
      const key = document.createElement("kbd");
      key.textContent = String(index + 1);
      label.append(radio, key, ` ${reason}`);
      fieldset.append(label);
      return radio;
    });
    this.dialog.addEventListener("keydown", (event) => this.key(event));
  }

  isOpen() {
    return this.dialog.open;
  }

  /** The reason (a kept one and the note, joined), or null when the curator cancels. */
  ask() {
    for (const radio of this.radios) radio.checked = false;
    this.text.value = "";
    this.dialog.returnValue = "";
    this.dialog.showModal();
    (this.radios[0] || this.text).focus();
    return new Promise((resolve) => {
      this.dialog.addEventListener("close", () => {
        if (this.dialog.returnValue !== "reject") {
          resolve(null);
          return;
        }
        const kept = this.radios.find((radio) => radio.checked)?.value || "";
        resolve([kept, this.text.value.trim()].filter(Boolean).join(" – "));
      }, { once: true });
    });
  }

  key(event) {
    if (event.target !== this.text && /^[1-9]$/.test(event.key)) {
      const radio = this.radios[Number(event.key) - 1];
      if (radio) {
        radio.checked = true;
        radio.focus();
      }
      event.preventDefault();
    } else if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      this.dialog.close("reject");
    }
  }
}

// --- helpers ------------------------------------------------------------------------

function decidedText(action) {
  if (action === "approve") return gettext("Approved: %(wish)s");
  if (action === "feature") return gettext("Approved and featured: %(wish)s");
  return gettext("Rejected: %(wish)s");
}

function shortWish(entry) {
  const text = entry.title || entry.wish;
  return `„${text.length > 60 ? `${text.slice(0, 59)}…` : text}“`;
}

function fill(id, text) {
  const element = byId(id);
  element.textContent = text || "–";
  element.parentElement.classList.toggle("is-empty", !text);
}

function swapImage(id, image) {
  const shown = byId(id);
  if (shown === image) return;
  image.id = id;
  image.className = shown.className;
  shown.replaceWith(image);
}

function drawOutline(svg, polygons, viewBox) {
  svg.setAttribute("viewBox", viewBox);
  svg.replaceChildren(...polygons.map((points) => {
    const polygon = document.createElementNS(SVG, "polygon");
    polygon.setAttribute("points", points.map((point) => point.join(",")).join(" "));
    return polygon;
  }));
}

function typingIn(target) {
  return target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
    || (target instanceof HTMLInputElement && !["radio", "checkbox", "button", "submit"].includes(target.type))
    || target?.isContentEditable;
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch (error) {
    // an error page: the status says enough
  }
  return { ok: response.ok, status: response.status, body: data };
}

function csrfToken() {
  return document.querySelector("#desk [name=csrfmiddlewaretoken]").value; // the cookie is HttpOnly
}

new Desk().start();
