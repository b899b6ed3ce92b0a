// Before/after comparison: the one slider module of the kiosk's result view,
// a creation's public page (/c/<slug>/) and its admin page.
//
// A range input is the control, so keyboards (arrow keys, Home, End) and
// screen readers work as with any slider; where dragging is on, dragging on
// the picture moves the same input. The value is the share of the width that
// shows the after picture (100: all of the result), on the left of the
// divider; it is written to the root as a CSS custom property (`--divider` in
// the kiosk, `--split` on the gallery's pages) that the page's CSS clips the
// pictures with.
//
// A new result is shown whole (100), then the divider nudges in from the edge
// once to invite dragging; a reduced-motion setting leaves the nudge out.

const HINT_DELAY = 900; // milliseconds the whole result is shown before the nudge
const HINT_DEPTH = 84; // how far the nudge pulls the divider in (the value it reaches)
const HINT_STEP = 750;

const { gettext, interpolate } = window;

export class Compare {
  constructor({ root, range, before = null, after = null, control = null,
    property = "--divider", drag = true }) {
    this.root = root;
    this.before = before;
    this.after = after;
    this.range = range;
    this.control = control;
    this.property = property;
    this.dragging = null;
    this.hintTimers = [];
    range.addEventListener("input", () => {
      this.stopHint();
      this.set(Number(range.value));
    });
    if (drag) {
      root.addEventListener("pointerdown", (event) => this.startDrag(event));
      root.addEventListener("pointermove", (event) => this.drag(event));
      root.addEventListener("pointerup", () => (this.dragging = null));
      root.addEventListener("pointercancel", () => (this.dragging = null));
    }
  }

  /** Show the whole of `afterUrl` (the result), then invite to drag towards `beforeUrl`. */
  show(beforeUrl, afterUrl) {
    this.stopHint();
    this.before.src = beforeUrl;
    this.after.src = afterUrl;
    this.root.hidden = false;
    this.control.hidden = false;
    this.set(100);
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    this.root.dataset.hint = still ? "off" : "on"; // whether the nudge comes (styles, tests)
    if (still) return;
    const root = this.root;
    this.hintTimers = [
      setTimeout(() => {
        root.classList.add("is-sweeping", "is-hinting");
        this.set(HINT_DEPTH);
      }, HINT_DELAY),
      setTimeout(() => this.set(100), HINT_DELAY + HINT_STEP),
      setTimeout(() => root.classList.remove("is-sweeping", "is-hinting"), HINT_DELAY + 2 * HINT_STEP),
    ];
  }

  /** The visitor took the slider (or the result went): the nudge must not fight them. */
  stopHint() {
    for (const timer of this.hintTimers) clearTimeout(timer);
    this.hintTimers = [];
    this.root.classList.remove("is-sweeping", "is-hinting");
  }

  hide() {
    this.stopHint();
    this.root.hidden = true;
    this.control.hidden = true;
    this.before.removeAttribute("src");
    this.after.removeAttribute("src");
  }

  /** Place the divider at `percent` of the width: after on its left, before on its right. */
  set(percent) {
    const value = Math.min(100, Math.max(0, Math.round(percent)));
    this.root.style.setProperty(this.property, `${value}%`);
    this.range.value = String(value);
    this.range.style.setProperty("--fill", `${value}%`);
    this.range.setAttribute(
      "aria-valuetext",
      interpolate(gettext("%(before)s percent before, %(after)s percent after"),
        { before: 100 - value, after: value }, true),
    );
  }

  startDrag(event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    this.stopHint();
    this.root.setPointerCapture(event.pointerId);
    this.dragging = event.pointerId;
    this.follow(event);
  }

  drag(event) {
    if (this.dragging === event.pointerId) this.follow(event);
  }

  follow(event) {
    const box = this.root.getBoundingClientRect();
    this.set(((event.clientX - box.left) / box.width) * 100);
  }
}

/**
 * A creation's public page: markup usable without JavaScript (the two pictures
 * one under the other) becomes a slider:
 *   <div class="compare" data-compare>
 *     <figure class="compare-before"><img ...><figcaption>Before</figcaption></figure>
 *     <figure class="compare-after"><img ...><figcaption>After</figcaption></figure>
 *   </div>
 * The after picture then lies on the before picture, cut where the range says.
 */
export function enhance(container) {
  if (container.classList.contains("is-enhanced")) return null;
  const range = document.createElement("input");
  range.type = "range";
  range.min = "0";
  range.max = "100";
  range.step = "1";
  range.value = "50";
  range.className = "compare-range";
  range.setAttribute("aria-label", gettext("Divider between before and after"));
  const handle = document.createElement("span");
  handle.className = "compare-handle";
  handle.setAttribute("aria-hidden", "true");
  container.append(handle, range);
  container.classList.add("is-enhanced");
  const compare = new Compare({ root: container, range, property: "--split", drag: false });
  compare.set(50);
  return compare;
}

/** Every comparison the page's markup holds: the public page's and the admin's. */
export function enhanceAll(scope = document) {
  for (const container of scope.querySelectorAll("[data-compare]")) enhance(container);
  for (const figure of scope.querySelectorAll(".olpe-compare")) {
    const range = figure.querySelector(".olpe-compare-slider");
    if (range) new Compare({ root: figure, range, property: "--split", drag: false }).set(Number(range.value));
  }
}
