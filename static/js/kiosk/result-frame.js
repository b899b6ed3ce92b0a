// The result, framed on its change: a wish painted on a few percent of the map is
// a few fingers wide on the screen, so the before/after comparison opens on the
// frame the worker stored with the result (`frame`: {box, change, size} in the
// map's pixels, inpainting_core/framing.py) when that shows it at least
// MIN_ZOOM times larger. „Ganze Karte“ beside the slider shows the whole map.
//
// The pictures are laid out larger inside #compare (--frame-zoom, --frame-x and
// --frame-y on #compare, see kiosk.css), never transformed, so they
// are drawn from the full-resolution result; the slider keeps working on the
// visible part.

import { byId } from "./http.js";

const MIN_ZOOM = 1.5;
const MAX_ZOOM = 8;

/** Where the comparison looks when framed: {zoom, x, y} (x, y in percent of the map), or null. */
export function framedView(frame) {
  if (!frame?.box || !frame?.size) return null;
  const [width, height] = frame.size;
  const [left, top, right, bottom] = frame.box;
  if (!(width > 0 && height > 0 && right > left && bottom > top)) return null;
  const zoom = Math.min(width / (right - left), height / (bottom - top), MAX_ZOOM);
  if (zoom < MIN_ZOOM) return null;
  const shown = [width / zoom, height / zoom];
  const x = clamp((left + right - shown[0]) / 2, 0, width - shown[0]);
  const y = clamp((top + bottom - shown[1]) / 2, 0, height - shown[1]);
  return { zoom, x: (100 * x) / width, y: (100 * y) / height };
}

export class ResultFrame {
  constructor() {
    this.compare = byId("compare");
    this.button = byId("compare-whole-map");
    this.view = null;
    this.button.addEventListener("click", () => this.apply(this.button.getAttribute("aria-pressed") !== "true"));
  }

  /** A new result: framed if its change is small, with the whole map one tap away. */
  show(frame) {
    this.view = framedView(frame);
    this.button.hidden = this.view === null;
    this.apply(false);
  }

  reset() {
    this.view = null;
    this.button.hidden = true;
    this.apply(false);
  }

  apply(whole) {
    const framed = this.view !== null && !whole;
    this.compare.classList.toggle("is-framed", framed);
    this.button.setAttribute("aria-pressed", String(this.view !== null && whole));
    const style = this.compare.style;
    style.setProperty("--frame-zoom", String(framed ? this.view.zoom : 1));
    style.setProperty("--frame-x", `${framed ? this.view.x : 0}%`);
    style.setProperty("--frame-y", `${framed ? this.view.y : 0}%`);
  }
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}
