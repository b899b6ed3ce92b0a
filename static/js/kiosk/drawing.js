// Drawing on the map: the canvas (painter.js), the tool bar, undo and redo,
// zooming (view.js), and the maps painted on. A map is {source, jobId?,
// resultUrl?, blob, url, width, height, regions}: the World's picture or a
// result, held as a blob so that it can be sent as the next map; `regions`
// (regions.js) arrive a little later, for the select tool.
//
// A big World (config.world.tiles) is not fetched whole: `url` is a small
// overview, and the tile layer (tiles.js) shows the map sharp from its tile
// pyramid at every zoom. A result on a huge map is only the window the wish
// repainted (`box`, its place on the map): its map is the one it was painted
// on (`base`) with the window laid over it, and after it every earlier one
// (`patches`).

import { byId, fetchPicture } from "./http.js";
import { Painter } from "./painter.js";
import { loadRegions } from "./regions.js";
import { TileLayer } from "./tiles.js";
import { MapView } from "./view.js";

const { gettext } = window;

export class Drawing {
  /**
   * @param {{world: object, jobRegionsUrl: string,
   *   isPainting: Function, onChange: Function, onHint: Function}} options
   *   `world` is the page's config.world ({imageUrl, regionsUrl, width, height, tiles});
   *   isPainting() whether the tools may be used now; onChange() after every stroke,
   *   undo, redo or clear; onHint(text) for a word to the visitor.
   */
  constructor({ world, jobRegionsUrl, isPainting, onChange, onHint }) {
    this.screen = byId("paint-screen");
    this.mapImage = byId("map-image");
    this.layer = byId("paint-layer");
    this.world = world;
    this.worldImageUrl = world.imageUrl;
    this.worldRegionsUrl = world.regionsUrl;
    this.jobRegionsUrl = jobRegionsUrl;
    this.isPainting = isPainting;
    this.onHint = onHint;
    this.painter = new Painter(this.layer, {
      onChange,
      onMapChange: (map) => this.showMap(map),
      onNoRegions: () => onHint(gettext("This map cannot be selected by regions yet. Please use the brush.")),
    });
    this.tiles = new TileLayer({ content: byId("stage-content"), stage: byId("stage"), before: this.layer });
    this.view = new MapView({
      stage: byId("stage"),
      content: byId("stage-content"),
      onGesture: () => this.painter.cancelStroke(),
      onChange: (view) => {
        this.refreshZoom(view);
        this.tiles.update(view);
      },
    });
    this.objectUrls = new Set();
    this.visit = 0; // regions still arriving for a wiped visit are dropped
  }

  bind() {
    for (const input of document.querySelectorAll("input[name=tool]")) {
      input.addEventListener("change", () => this.painter.setTool(input.value));
    }
    for (const input of document.querySelectorAll("input[name=size]")) {
      input.addEventListener("change", () => this.painter.setBrushSize(input.value));
      if (input.checked) this.painter.setBrushSize(input.value);
    }
    byId("undo").addEventListener("click", () => this.painter.undo());
    byId("redo").addEventListener("click", () => this.painter.redo());
    byId("clear").addEventListener("click", () => this.painter.clear());
    byId("zoom-in").addEventListener("click", () => this.view.zoomIn());
    byId("zoom-out").addEventListener("click", () => this.view.zoomOut());
    byId("whole-map").addEventListener("click", () => this.view.reset());
    document.addEventListener("keydown", (event) => {
      if (!(event.ctrlKey || event.metaKey) || !this.isPainting()) return;
      if (event.target instanceof HTMLInputElement && event.target.type === "text") return;
      const key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey) this.painter.undo();
      else if (key === "y" || (key === "z" && event.shiftKey)) this.painter.redo();
      else return;
      event.preventDefault();
    });
  }

  hasPaint() {
    return this.painter.state().hasPaint;
  }

  /** Enable the canvas and tools while painting; show the canvas in the states that keep it. */
  setEnabled(painting, visible) {
    this.painter.setEnabled(painting);
    for (const control of byId("tools").querySelectorAll("input")) control.disabled = !painting;
    this.layer.hidden = !visible;
    this.view.setEnabled(visible);
    if (!visible) this.view.reset(); // the comparison shows the whole map
  }

  refreshZoom(view) {
    byId("zoom-in").disabled = view.zoom >= view.maxZoom - 1e-3;
    byId("zoom-out").disabled = view.zoom <= 1.001;
    byId("whole-map").disabled = view.zoom <= 1.001;
  }

  refreshButtons(painting) {
    const { canUndo, canRedo, hasPaint } = this.painter.state();
    byId("undo").disabled = !painting || !canUndo;
    byId("redo").disabled = !painting || !canRedo;
    byId("clear").disabled = !painting || !hasPaint;
  }

  // --- maps ---------------------------------------------------------------------

  /** Fetch a map as a blob (it is sent with the next wish) and measure it. A big World is
   * shown from its tiles instead; a result on a huge map is fetched as its window. */
  async loadMap(reference) {
    if (reference.source === "world" && this.world.tiles) {
      return {
        ...reference, blob: null, url: this.worldImageUrl, width: this.world.width,
        height: this.world.height, tiles: this.world.tiles, patches: [], regions: null,
        regionsAsked: false,
      };
    }
    if (reference.box) return this.loadRegionResult(reference);
    const address = reference.source === "world" ? this.worldImageUrl : reference.resultUrl;
    const blob = await fetchPicture(address);
    const url = this.objectUrl(blob);
    const picture = new Image();
    picture.src = url;
    await picture.decode();
    const map = {
      ...reference, blob, url, width: picture.naturalWidth, height: picture.naturalHeight,
      regions: null, regionsAsked: false,
    };
    return map;
  }

  /** A result on a huge map: its window laid over the map it was painted on (`base`, a map
   * or a draft's reference to one). */
  async loadRegionResult(reference) {
    const base = reference.base.width ? reference.base : await this.loadMap(reference.base);
    const blob = await fetchPicture(reference.resultUrl);
    const windowUrl = this.objectUrl(blob);
    return {
      source: "job", jobId: reference.jobId, resultUrl: reference.resultUrl, box: reference.box,
      beforeUrl: reference.beforeUrl, base, blob: null, windowUrl, url: base.url,
      width: base.width, height: base.height, tiles: base.tiles,
      patches: [...(base.patches || []), { url: windowUrl, box: reference.box }],
      regions: null, regionsAsked: false,
    };
  }

  /**
   * The map's regions for the select tool, fetched in the background once the map
   * is painted on (a result only if the visitor keeps painting on it: its regions
   * are made on demand). A tap before they arrive is explained.
   */
  async fetchRegions(map) {
    if (map.regionsAsked) return;
    map.regionsAsked = true;
    // A huge map's results are windows: the World's regions serve them (its label picture
    // covers the whole map, and a window's own would not).
    const address = map.source === "world" || map.box
      ? this.worldRegionsUrl : this.jobRegionsUrl.replace(/[0-9a-f-]{36}/, map.jobId);
    const visit = this.visit;
    try {
      map.regions = await loadRegions(address, { stillWanted: () => visit === this.visit });
    } catch (error) {
      console.warn("kiosk: the map's regions could not be read", error);
    }
    if (visit === this.visit && map === this.painter.currentMap()) this.markRegions(map);
  }

  /** Whether the select tool can work on the map shown (for tests and styling). */
  markRegions(map) {
    this.screen.dataset.regions = map?.regions ? "ready" : "waiting";
  }

  objectUrl(blob) {
    const url = URL.createObjectURL(blob);
    this.objectUrls.add(url);
    return url;
  }

  showMap(map) {
    if (!map) return;
    this.mapImage.src = map.url;
    this.tiles.show(map);
    this.screen.style.setProperty("--map-ratio", `${map.width} / ${map.height}`);
    this.view.setMapSize(map.width);
    this.markRegions(map);
    this.fetchRegions(map);
  }

  /** Forget the visit's drawing and maps. */
  wipe() {
    this.visit += 1;
    this.view.reset();
    this.painter.wipe();
    this.tiles.show(null);
    this.mapImage.removeAttribute("src");
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls.clear();
  }
}
