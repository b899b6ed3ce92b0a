// The drawing layer over the map: where the visitor marks the place to repaint.
//
// The layer is a canvas with the map's pixel size, scaled to the screen by CSS.
// Strokes are recorded in map coordinates, so the mask that leaves the kiosk
// has the map's full resolution however small the screen shows it. Paint is
// opaque colour on transparency; the server reads the alpha channel.
//
// A map larger than MAX_LAYER_PIXELS (a scanned map of 16384² would need a
// gigabyte of canvas) is drawn on a layer of fewer pixels, `scale` of the
// map's; the strokes stay in map coordinates, and the mask sent is the painted
// region drawn again from them at the map's own resolution (`maskRegion`).
//
// The select tool paints whole regions: a tap adds the region under the finger
// (the map's regions, regions.js), a tap on a selected region takes it away.
//
// History is a list of operations (strokes, regions, "clear", a new map). Undo and redo
// replay the list from the start instead of storing pixel snapshots: a stroke
// costs a few hundred numbers, a snapshot of a large map tens of megabytes.

const PAINT = "#e4412b";
// A brush stroke whose end comes back within this many screen pixels of its
// start is an outline, and its inside is filled.
const CLOSE_DISTANCE_CSS = 40;
// ... unless the stroke is short: a dab or a tiny scribble is no outline.
const MIN_OUTLINE_CSS = 160;
const SHAPE_OUTLINE_CSS = 6;
const MIN_POINT_DISTANCE_CSS = 1.5;
const PROBE_SIZE = 192;
// A select tap may wander this far (screen pixels) and still be a tap.
const TAP_DISTANCE_CSS = 12;
// The drawing layer has at most this many pixels (32 MB of canvas); bigger maps draw scaled.
const MAX_LAYER_PIXELS = 8 * 1024 * 1024;
// A painted region is sent at the map's resolution up to this side, scaled down beyond it.
const REGION_MAX_SIDE = 4096;
// ... and at least this side (the server's smallest mask), with the map around it.
const REGION_MIN_SIDE = 128;

export const TOOLS = Object.freeze({
  BRUSH: "brush", SHAPE: "shape", ERASER: "eraser", SELECT: "select",
});

export class Painter {
  /**
   * @param {HTMLCanvasElement} canvas the drawing layer, stacked over the map picture
   * @param {{onChange?: Function, onMapChange?: Function}} handlers
   *   onChange(state) after every change: {canUndo, canRedo, hasPaint};
   *   onMapChange(map) when undo, redo or adoptMap changes which map lies below;
   *   onNoRegions() when a select tap finds no regions for the map (not made yet).
   */
  constructor(canvas, { onChange = () => {}, onMapChange = () => {}, onNoRegions = () => {} } = {}) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.onChange = onChange;
    this.onMapChange = onMapChange;
    this.onNoRegions = onNoRegions;
    this.tap = null;
    this.baseMap = null;
    this.history = [];
    this.undone = [];
    this.tool = TOOLS.BRUSH;
    this.brushCss = 28;
    this.enabled = true;
    this.stroke = null;
    this.hasPaint = false;
    this.shownMap = null;
    this.mapWidth = 1;
    this.mapHeight = 1;
    this.scale = 1; // layer pixels per map pixel
    this.probe = document.createElement("canvas");
    this.listen();
  }

  // --- the map below ---------------------------------------------------------

  /** The first map: not undoable. `map` = {width, height, ...} (the page's own fields). */
  setBaseMap(map) {
    this.baseMap = map;
    this.history = [];
    this.undone = [];
    this.replay();
  }

  /** A new map to paint on (a result): clears the paint; undo brings the old map back. */
  adoptMap(map) {
    this.push({ kind: "map", map });
  }

  currentMap() {
    for (let index = this.history.length - 1; index >= 0; index -= 1) {
      if (this.history[index].kind === "map") return this.history[index].map;
    }
    return this.baseMap;
  }

  /** A picture (e.g. a restored drawing) as the paint of the current map, not undoable. */
  restorePaint(picture) {
    this.history.push({ kind: "picture", picture });
    this.replay();
  }

  // --- tools -----------------------------------------------------------------

  setTool(tool) {
    if (Object.values(TOOLS).includes(tool)) this.tool = tool;
  }

  setBrushSize(cssPixels) {
    this.brushCss = Number(cssPixels) || this.brushCss;
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    if (!enabled) {
      this.tap = null;
      this.finishStroke();
    }
    this.canvas.classList.toggle("is-locked", !enabled);
  }

  undo() {
    if (!this.history.length || this.history.at(-1).kind === "picture") return;
    this.undone.push(this.history.pop());
    this.replay();
  }

  redo() {
    if (!this.undone.length) return;
    this.history.push(this.undone.pop());
    this.replay();
  }

  clear() {
    if (this.hasPaint) this.push({ kind: "clear" });
  }

  state() {
    const last = this.history.at(-1);
    return {
      canUndo: Boolean(last) && last.kind !== "picture",
      canRedo: this.undone.length > 0,
      hasPaint: this.hasPaint,
    };
  }

  /** The mask: the paint at the layer's resolution, PNG with alpha. */
  maskBlob() {
    return canvasBlob(this.canvas);
  }

  /**
   * The painted region of the map as a mask at the map's resolution (at most
   * REGION_MAX_SIDE a side), drawn again from the strokes: {blob, box}, `box`
   * its place on the map as [x, y, width, height]. Null when nothing is painted.
   */
  async maskRegion() {
    const bounds = this.paintedBounds();
    if (!bounds) return null;
    const box = regionAround(bounds, this.mapWidth, this.mapHeight);
    const [x, y, width, height] = box;
    const factor = Math.min(1, REGION_MAX_SIDE / Math.max(width, height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(width * factor));
    canvas.height = Math.max(1, Math.round(height * factor));
    const context = canvas.getContext("2d");
    context.setTransform(factor, 0, 0, factor, -x * factor, -y * factor);
    this.draw(context);
    return { blob: await canvasBlob(canvas), box };
  }

  /** What the paint since the last "clear" or new map covers: [x0, y0, x1, y1] of the map. */
  paintedBounds() {
    let bounds = null;
    const grow = (x0, y0, x1, y1) => {
      bounds = bounds
        ? [Math.min(bounds[0], x0), Math.min(bounds[1], y0), Math.max(bounds[2], x1),
          Math.max(bounds[3], y1)]
        : [x0, y0, x1, y1];
    };
    for (const operation of this.sinceStart()) {
      if (operation.kind === "stroke" && operation.tool !== TOOLS.ERASER) {
        const half = operation.width / 2;
        const points = operation.points;
        for (let index = 0; index < points.length; index += 2) {
          grow(points[index] - half, points[index + 1] - half, points[index] + half,
            points[index + 1] + half);
        }
      } else if (operation.kind === "region" && !operation.remove) {
        const [u0, v0, u1, v1] = operation.regions.bounds(operation.label);
        grow(u0 * this.mapWidth, v0 * this.mapHeight, u1 * this.mapWidth, v1 * this.mapHeight);
      } else if (operation.kind === "picture") {
        grow(0, 0, this.mapWidth, this.mapHeight);
      }
    }
    return this.hasPaint ? bounds : null;
  }

  maskDataUrl() {
    return this.canvas.toDataURL("image/png");
  }

  /** The regions selected now: those tapped since the last "clear" or new map, less those tapped away. */
  selectedRegions() {
    const selected = new Set();
    for (const operation of this.sinceStart()) {
      if (operation.kind !== "region") continue;
      if (operation.remove) selected.delete(operation.label);
      else selected.add(operation.label);
    }
    return selected;
  }

  /** Add the region under a point of the map (map pixels), or take it away if it is selected. */
  toggleRegion(x, y) {
    const map = this.currentMap();
    const regions = map?.regions;
    if (!regions) {
      this.onNoRegions();
      return;
    }
    const label = regions.labelAt(x / this.mapWidth, y / this.mapHeight);
    const remove = this.selectedRegions().has(label);
    this.push({ kind: "region", label, remove, regions });
  }

  /** Drop the stroke being drawn (two fingers began to zoom): it leaves no trace. */
  cancelStroke() {
    this.tap = null;
    if (!this.stroke) return;
    this.stroke = null;
    this.replay();
  }

  /** Forget everything: the next visitor gets an empty layer. */
  wipe() {
    this.tap = null;
    this.stroke = null;
    this.history = [];
    this.undone = [];
    this.baseMap = null;
    this.shownMap = null;
    this.clearLayer();
    this.canvas.width = 1;
    this.canvas.height = 1;
    this.mapWidth = this.mapHeight = this.scale = 1;
    this.hasPaint = false;
  }

  // --- history ---------------------------------------------------------------

  push(operation) {
    this.history.push(operation);
    this.undone = [];
    this.replay();
  }

  /** The operations since the last "clear" or new map: what the layer shows. */
  sinceStart() {
    let start = 0;
    this.history.forEach((operation, index) => {
      if (operation.kind === "clear" || operation.kind === "map") start = index + 1;
    });
    return this.history.slice(start);
  }

  /** Redraw the paint from the history: strokes since the last "clear" or new map. */
  replay() {
    const map = this.currentMap();
    if (map !== this.shownMap) {
      this.shownMap = map;
      if (map) this.resize(map.width, map.height);
      this.onMapChange(map);
    }
    this.clearLayer();
    this.draw(this.context);
    this.changed();
  }

  /** Draw the paint since the last "clear" or new map, in map coordinates (the context's
   * transform scales them to its canvas). */
  draw(context) {
    for (const operation of this.sinceStart()) {
      if (operation.kind === "stroke") drawStroke(context, operation);
      else if (operation.kind === "region") {
        drawRegion(context, operation, this.mapWidth, this.mapHeight);
      } else if (operation.kind === "picture") {
        context.drawImage(operation.picture, 0, 0, this.mapWidth, this.mapHeight);
      }
    }
  }

  clearLayer() {
    this.context.save();
    this.context.setTransform(1, 0, 0, 1, 0, 0);
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.context.restore();
  }

  /** A layer for a map of width × height, at most MAX_LAYER_PIXELS: `scale` of the map. */
  resize(width, height) {
    this.mapWidth = width;
    this.mapHeight = height;
    this.scale = Math.min(1, Math.sqrt(MAX_LAYER_PIXELS / (width * height)));
    const layerWidth = Math.max(1, Math.round(width * this.scale));
    const layerHeight = Math.max(1, Math.round(height * this.scale));
    if (this.canvas.width !== layerWidth || this.canvas.height !== layerHeight) {
      this.canvas.width = layerWidth;
      this.canvas.height = layerHeight;
    }
    // Strokes are in map coordinates (resizing a canvas resets its transform).
    this.context.setTransform(layerWidth / width, 0, 0, layerHeight / height, 0, 0);
  }

  changed() {
    this.hasPaint = this.detectPaint();
    this.onChange(this.state());
  }

  /** Whether any paint is left, read from a small copy: reading a large map's pixels is slow. */
  detectPaint() {
    const { width, height } = this.canvas;
    if (width < 2 || height < 2) return false;
    const scale = Math.min(1, PROBE_SIZE / Math.max(width, height));
    const probeWidth = Math.max(1, Math.round(width * scale));
    const probeHeight = Math.max(1, Math.round(height * scale));
    this.probe.width = probeWidth;
    this.probe.height = probeHeight;
    const probe = this.probe.getContext("2d", { willReadFrequently: true });
    probe.clearRect(0, 0, probeWidth, probeHeight);
    probe.drawImage(this.canvas, 0, 0, probeWidth, probeHeight);
    const pixels = probe.getImageData(0, 0, probeWidth, probeHeight).data;
    for (let alpha = 3; alpha < pixels.length; alpha += 4) {
      if (pixels[alpha] > 0) return true;
    }
    return false;
  }

  // --- pointer input ----------------------------------------------------------

  listen() {
    const canvas = this.canvas;
    canvas.addEventListener("pointerdown", (event) => this.startStroke(event));
    canvas.addEventListener("pointermove", (event) => this.extendStroke(event));
    canvas.addEventListener("pointerup", (event) => this.endStroke(event));
    canvas.addEventListener("pointercancel", (event) => this.endStroke(event));
    canvas.addEventListener("lostpointercapture", (event) => this.endStroke(event));
    // A long press must not open a context menu in the middle of a stroke.
    canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  /** Map pixels per screen pixel, as the layer is shown right now. */
  mapPixelsPerCss() {
    const box = this.canvas.getBoundingClientRect();
    return box.width > 0 ? this.mapWidth / box.width : 1;
  }

  toMap(event, box) {
    return [
      ((event.clientX - box.left) * this.mapWidth) / box.width,
      ((event.clientY - box.top) * this.mapHeight) / box.height,
    ];
  }

  startStroke(event) {
    if (!this.enabled || this.stroke || this.tap || !event.isPrimary) return;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    if (this.tool === TOOLS.SELECT) {
      this.canvas.setPointerCapture(event.pointerId);
      this.tap = { pointerId: event.pointerId, x: event.clientX, y: event.clientY };
      return;
    }
    this.canvas.setPointerCapture(event.pointerId);
    const box = this.canvas.getBoundingClientRect();
    const scale = this.mapWidth / box.width; // map pixels per screen pixel
    const [x, y] = this.toMap(event, box);
    const outline = this.tool === TOOLS.SHAPE;
    this.stroke = {
      pointerId: event.pointerId,
      box,
      scale,
      operation: {
        kind: "stroke",
        tool: this.tool,
        width: (outline ? SHAPE_OUTLINE_CSS : this.brushCss) * scale,
        points: [x, y],
        closed: false,
      },
    };
    drawStroke(this.context, this.stroke.operation);
  }

  extendStroke(event) {
    const stroke = this.stroke;
    if (!stroke || event.pointerId !== stroke.pointerId) return;
    event.preventDefault();
    const points = stroke.operation.points;
    const minimum = MIN_POINT_DISTANCE_CSS * stroke.scale;
    const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const sample of samples.length ? samples : [event]) {
      const [x, y] = this.toMap(sample, stroke.box);
      const lastX = points.at(-2);
      const lastY = points.at(-1);
      if (Math.hypot(x - lastX, y - lastY) < minimum) continue;
      points.push(x, y);
      drawSegment(this.context, stroke.operation, lastX, lastY, x, y);
    }
  }

  endStroke(event) {
    const tap = this.tap;
    if (tap && event.pointerId === tap.pointerId) {
      this.tap = null;
      const still = Math.hypot(event.clientX - tap.x, event.clientY - tap.y) <= TAP_DISTANCE_CSS;
      if (event.type === "pointerup" && still && this.enabled) {
        const [x, y] = this.toMap(event, this.canvas.getBoundingClientRect());
        this.toggleRegion(x, y);
      }
      return;
    }
    if (!this.stroke || event.pointerId !== this.stroke.pointerId) return;
    this.finishStroke();
  }

  finishStroke() {
    const stroke = this.stroke;
    if (!stroke) return;
    this.stroke = null;
    const operation = stroke.operation;
    operation.closed = this.isOutline(operation, stroke.scale);
    if (operation.tool === TOOLS.SHAPE && !operation.closed) {
      this.replay(); // an outline too small to fill leaves no trace
      return;
    }
    this.push(operation);
  }

  /** Whether a finished stroke encloses an area that should be filled. */
  isOutline(operation, scale) {
    const points = operation.points;
    if (points.length < 6) return false;
    let length = 0;
    for (let index = 2; index < points.length; index += 2) {
      length += Math.hypot(points[index] - points[index - 2],
        points[index + 1] - points[index - 1]);
    }
    if (operation.tool === TOOLS.SHAPE) return length > operation.width * 4;
    const gap = Math.hypot(points.at(-2) - points[0], points.at(-1) - points[1]);
    const closeEnough = Math.max(CLOSE_DISTANCE_CSS * scale, operation.width);
    return operation.tool === TOOLS.BRUSH && gap <= closeEnough && length >= MIN_OUTLINE_CSS * scale
      && length > 4 * gap;
  }
}

function drawStroke(context, operation) {
  const points = operation.points;
  context.save();
  style(context, operation);
  context.beginPath();
  context.moveTo(points[0], points[1]);
  if (points.length === 2) context.lineTo(points[0] + 0.01, points[1]); // a dab
  for (let index = 2; index < points.length; index += 2) {
    context.lineTo(points[index], points[index + 1]);
  }
  if (operation.closed) {
    context.closePath();
    context.fill();
  }
  context.stroke();
  context.restore();
}

/** A selected region, scaled from the label picture's size onto the map's. */
function drawRegion(context, operation, width, height) {
  const mask = operation.regions.mask(operation.label);
  context.save();
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.globalCompositeOperation = operation.remove ? "destination-out" : "source-over";
  context.drawImage(mask, 0, 0, width, height);
  // Taking a region away twice leaves no faint seam where its scaled edge was soft.
  if (operation.remove) context.drawImage(mask, 0, 0, width, height);
  context.restore();
}

function drawSegment(context, operation, fromX, fromY, toX, toY) {
  context.save();
  style(context, operation);
  context.beginPath();
  context.moveTo(fromX, fromY);
  context.lineTo(toX, toY);
  context.stroke();
  context.restore();
}

function style(context, operation) {
  context.globalCompositeOperation =
    operation.tool === TOOLS.ERASER ? "destination-out" : "source-over";
  context.strokeStyle = PAINT;
  context.fillStyle = PAINT;
  context.lineWidth = operation.width;
  context.lineCap = "round";
  context.lineJoin = "round";
}

function canvasBlob(canvas) {
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("mask export failed"))),
      "image/png",
    );
  });
}

/** The painted bounds grown to whole pixels, by a pixel, to at least REGION_MIN_SIDE a side,
 * inside the map: [x, y, width, height]. */
function regionAround([x0, y0, x1, y1], mapWidth, mapHeight) {
  const span = (start, stop, limit) => {
    let low = Math.max(0, Math.floor(start) - 1);
    let high = Math.min(limit, Math.ceil(stop) + 1);
    const missing = Math.max(0, Math.min(limit, REGION_MIN_SIDE) - (high - low));
    low = Math.max(0, low - Math.ceil(missing / 2));
    high = Math.min(limit, low + Math.max(high - low, Math.min(limit, REGION_MIN_SIDE)));
    low = Math.max(0, high - Math.max(high - low, Math.min(limit, REGION_MIN_SIDE)));
    return [low, high];
  };
  const [left, right] = span(x0, x1, mapWidth);
  const [top, bottom] = span(y0, y1, mapHeight);
  return [left, top, right - left, bottom - top];
}
