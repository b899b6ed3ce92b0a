// Zooming and panning the map on the paint screen.
//
// The stage (#stage) is the window; its content (#stage-content: the map and
// the drawing layer) is laid out at `zoom` times the window's size and moved by
// (x, y) CSS pixels. The content is laid out larger rather than scaled by a
// transform, so the browser draws the map from its full-resolution picture at
// every zoom: the kiosk holds each map at its full size (it is sent with the
// wish), and zooming in shows its own pixels, never a blown-up screen copy.
// The drawing layer has the map's size whatever the zoom, so the mask keeps the
// map's full resolution and a brush's width stays the same on the screen.
//
// Input:
//   two fingers  pinch to zoom, move to pan (a stroke the first finger began is dropped)
//   one finger   always paints (painter.js)
//   mouse        wheel zooms around the pointer; the middle button, or the left
//                one with the space bar held, drags the map
//   buttons      zoom in, zoom out, whole map

const MIN_ZOOM = 1;
const STEP = 1.5;
const WHEEL_SPEED = 0.0015;

export class MapView {
  /**
   * @param {{stage: HTMLElement, content: HTMLElement, onGesture?: Function, onChange?: Function}} options
   *   onGesture() when two fingers start a pinch (the painter drops its stroke);
   *   onChange(view) after every change of zoom or position.
   */
  constructor({ stage, content, onGesture = () => {}, onChange = () => {} }) {
    this.stage = stage;
    this.content = content;
    this.onGesture = onGesture;
    this.onChange = onChange;
    this.zoom = 1;
    this.x = 0;
    this.y = 0;
    this.maxZoom = 8;
    this.touches = new Map(); // pointerId -> {x, y}
    this.pinch = null;
    this.drag = null;
    this.spaceHeld = false;
    this.enabled = true;
    this.listen();
    this.apply();
  }

  /** The deepest zoom: 8×, or deeper when a map has more pixels than that shows. */
  setMapSize(width) {
    const shown = this.stage.clientWidth || width;
    this.maxZoom = Math.max(8, Math.min(32, (2 * width) / shown));
    this.setZoom(Math.min(this.zoom, this.maxZoom));
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    if (!enabled) {
      this.pinch = null;
      this.drag = null;
    }
  }

  // --- changing the view ------------------------------------------------------------

  zoomIn() {
    this.zoomAround(this.zoom * STEP, this.centre());
  }

  zoomOut() {
    this.zoomAround(this.zoom / STEP, this.centre());
  }

  reset() {
    this.zoom = 1;
    this.x = 0;
    this.y = 0;
    this.apply();
  }

  setZoom(zoom) {
    this.zoomAround(zoom, this.centre());
  }

  centre() {
    return [this.stage.clientWidth / 2, this.stage.clientHeight / 2];
  }

  /** Zoom to `zoom`, keeping the point at `anchor` (stage CSS pixels) where it is. */
  zoomAround(zoom, [ax, ay]) {
    const next = clamp(zoom, MIN_ZOOM, this.maxZoom);
    const ratio = next / this.zoom;
    this.x = ax - (ax - this.x) * ratio;
    this.y = ay - (ay - this.y) * ratio;
    this.zoom = next;
    this.apply();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  }

  /** Keep the map covering the window, then lay the content out. */
  apply() {
    const width = this.stage.clientWidth;
    const height = this.stage.clientHeight;
    this.x = clamp(this.x, width - width * this.zoom, 0);
    this.y = clamp(this.y, height - height * this.zoom, 0);
    const style = this.content.style;
    style.setProperty("--zoom", String(this.zoom));
    style.setProperty("--pan-x", `${this.x}px`);
    style.setProperty("--pan-y", `${this.y}px`);
    this.stage.classList.toggle("is-zoomed", this.zoom > 1.001);
    this.onChange(this);
  }

  /** Where a screen point lies in the stage's CSS pixels. */
  local(event) {
    const box = this.stage.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  // --- input --------------------------------------------------------------------------

  listen() {
    const stage = this.stage;
    // Capture: the view sees a pointer before the drawing layer does, and keeps
    // the pointers that pan or pinch away from it.
    stage.addEventListener("pointerdown", (event) => this.down(event), true);
    stage.addEventListener("pointermove", (event) => this.move(event), true);
    for (const type of ["pointerup", "pointercancel"]) {
      stage.addEventListener(type, (event) => this.up(event), true);
    }
    // A finger lifted outside the stage must not stay counted: the next one would pinch.
    for (const type of ["pointerup", "pointercancel"]) {
      window.addEventListener(type, (event) => this.forget(event));
    }
    stage.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
    document.addEventListener("keydown", (event) => {
      if (event.code === "Space" && !usesSpace(event.target)) {
        this.spaceHeld = true;
        stage.classList.add("is-grabbing");
        event.preventDefault();
      }
    });
    document.addEventListener("keyup", (event) => {
      if (event.code === "Space") {
        this.spaceHeld = false;
        stage.classList.remove("is-grabbing");
      }
    });
    window.addEventListener("resize", () => this.apply());
  }

  down(event) {
    if (!this.enabled) return;
    if (event.pointerType === "touch") {
      this.touches.set(event.pointerId, this.local(event));
      if (this.touches.size === 2) {
        this.onGesture();
        this.startPinch();
      }
      if (this.touches.size >= 2) {
        event.stopPropagation();
        event.preventDefault();
      }
      return;
    }
    const panning = event.button === 1 || (event.button === 0 && this.spaceHeld);
    if (event.pointerType === "mouse" && panning) {
      event.stopPropagation();
      event.preventDefault();
      this.stage.setPointerCapture(event.pointerId);
      this.drag = { pointerId: event.pointerId, last: this.local(event) };
    }
  }

  move(event) {
    if (this.touches.has(event.pointerId)) {
      this.touches.set(event.pointerId, this.local(event));
      if (this.pinch) {
        event.stopPropagation();
        this.followPinch();
      }
      return;
    }
    if (this.drag && this.drag.pointerId === event.pointerId) {
      event.stopPropagation();
      const point = this.local(event);
      this.panBy(point[0] - this.drag.last[0], point[1] - this.drag.last[1]);
      this.drag.last = point;
    }
  }

  up(event) {
    if (this.touches.delete(event.pointerId)) {
      if (this.pinch) event.stopPropagation();
      // The pinch lasts until every finger is off: a finger left behind does not paint.
      if (this.touches.size === 0) this.pinch = null;
      else if (this.pinch && this.touches.size >= 2) this.startPinch();
      return;
    }
    if (this.drag && this.drag.pointerId === event.pointerId) {
      event.stopPropagation();
      this.drag = null;
    }
  }

  forget(event) {
    if (this.touches.delete(event.pointerId) && this.touches.size === 0) this.pinch = null;
  }

  startPinch() {
    const [a, b] = [...this.touches.values()];
    this.pinch = {
      distance: Math.max(1, Math.hypot(b[0] - a[0], b[1] - a[1])),
      zoom: this.zoom,
      // the map point (in content CSS pixels at zoom 1) under the fingers' middle
      anchor: [((a[0] + b[0]) / 2 - this.x) / this.zoom, ((a[1] + b[1]) / 2 - this.y) / this.zoom],
    };
  }

  followPinch() {
    const points = [...this.touches.values()];
    if (points.length < 2) return;
    const [a, b] = points;
    const distance = Math.max(1, Math.hypot(b[0] - a[0], b[1] - a[1]));
    const middle = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
    this.zoom = clamp((this.pinch.zoom * distance) / this.pinch.distance, MIN_ZOOM, this.maxZoom);
    // the anchored map point follows the fingers' middle: zoom and pan in one movement
    this.x = middle[0] - this.pinch.anchor[0] * this.zoom;
    this.y = middle[1] - this.pinch.anchor[1] * this.zoom;
    this.apply();
  }

  wheel(event) {
    if (!this.enabled) return;
    event.preventDefault();
    const lines = event.deltaMode === 1 ? 16 : 1;
    this.zoomAround(this.zoom * Math.exp(-event.deltaY * lines * WHEEL_SPEED), this.local(event));
  }
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

/** Whether the space bar means something where it is pressed (typing, pressing a button). */
function usesSpace(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement
    || target instanceof HTMLButtonElement
    || target instanceof HTMLSelectElement || target?.isContentEditable;
}
