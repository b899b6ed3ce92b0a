// Before/after comparison: the result lies over the original, cut at a divider.
//
// A range input is the control, so keyboards (arrow keys, Home, End) and
// screen readers work as with any slider; dragging on the picture moves the
// same input.

const { gettext, interpolate } = window;

export class Compare {
  constructor({ root, before, after, range, control }) {
    this.root = root;
    this.before = before;
    this.after = after;
    this.range = range;
    this.control = control;
    this.dragging = null;
    range.addEventListener("input", () => this.set(Number(range.value)));
    root.addEventListener("pointerdown", (event) => this.startDrag(event));
    root.addEventListener("pointermove", (event) => this.drag(event));
    root.addEventListener("pointerup", () => (this.dragging = null));
    root.addEventListener("pointercancel", () => (this.dragging = null));
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
    this.root.style.setProperty("--divider", `${value}%`);
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
