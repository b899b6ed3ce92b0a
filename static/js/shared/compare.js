// Before/after comparison: the one slider module of the kiosk's result view,
// a creation's public page (/c/<slug>/) and its admin page.
//
// A range input is the control, so keyboards (arrow keys, Home, End) and
// screen readers work as with any slider; where dragging is on, dragging on
// the picture moves the same input. The value is the share of the width that
// shows the before picture; it is written to the root as a CSS custom
// property (`--divider` in the kiosk, `--split` on the gallery's pages) that
// the page's CSS clips the pictures with.

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
    range.addEventListener("input", () => this.set(Number(range.value)));
    if (drag) {
      root.addEventListener("pointerdown", (event) => this.startDrag(event));
      root.addEventListener("pointermove", (event) => this.drag(event));
      root.addEventListener("pointerup", () => (this.dragging = null));
      root.addEventListener("pointercancel", () => (this.dragging = null));
    }
  }

  /** Show `afterUrl` over `beforeUrl`, the divider first sweeping in from the right. */
  show(beforeUrl, afterUrl) {
    this.before.src = beforeUrl;
    this.after.src = afterUrl;
    this.root.hidden = false;
    this.control.hidden = false;
    const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (reduced) {
      this.set(50);
      return;
    }
    this.set(100);
    this.root.classList.add("is-sweeping");
    requestAnimationFrame(() => requestAnimationFrame(() => this.set(50)));
    setTimeout(() => this.root.classList.remove("is-sweeping"), 900);
  }

  hide() {
    this.root.hidden = true;
    this.control.hidden = true;
    this.before.removeAttribute("src");
    this.after.removeAttribute("src");
  }

  /** Place the divider at `percent` of the width: before on its left, after on its right. */
  set(percent) {
    const value = Math.min(100, Math.max(0, Math.round(percent)));
    this.root.style.setProperty(this.property, `${value}%`);
    this.range.value = String(value);
    this.range.style.setProperty("--fill", `${value}%`);
    this.range.setAttribute(
      "aria-valuetext",
      interpolate(gettext("%(before)s percent before, %(after)s percent after"),
        { before: value, after: 100 - value }, true),
    );
  }

  startDrag(event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
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
