// Drawing on the map: the canvas (painter.js), the tool bar, undo and redo, and
// the maps painted on. A map is {source, jobId?, resultUrl?, blob, url, width,
// height}: the World's picture or a result, held as a blob so that it can be
// sent as the next map.

import { byId, fetchPicture } from "./http.js";
import { Painter } from "./painter.js";

export class Drawing {
  /**
   * @param {{worldImageUrl: string, isPainting: Function, onChange: Function}} options
   *   isPainting() whether the tools may be used now; onChange() after every stroke,
   *   undo, redo or clear.
   */
  constructor({ worldImageUrl, isPainting, onChange }) {
    this.screen = byId("paint-screen");
    this.mapImage = byId("map-image");
    this.layer = byId("paint-layer");
    this.worldImageUrl = worldImageUrl;
    this.isPainting = isPainting;
    this.painter = new Painter(this.layer, {
      onChange,
      onMapChange: (map) => this.showMap(map),
    });
    this.objectUrls = new Set();
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
  }

  refreshButtons(painting) {
    const { canUndo, canRedo, hasPaint } = this.painter.state();
    byId("undo").disabled = !painting || !canUndo;
    byId("redo").disabled = !painting || !canRedo;
    byId("clear").disabled = !painting || !hasPaint;
  }

  // --- maps ---------------------------------------------------------------------

  /** Fetch a map as a blob (it is sent with the next wish) and measure it. */
  async loadMap(reference) {
    const address = reference.source === "world" ? this.worldImageUrl : reference.resultUrl;
    const blob = await fetchPicture(address);
    const url = this.objectUrl(blob);
    const picture = new Image();
    picture.src = url;
    await picture.decode();
    return { ...reference, blob, url, width: picture.naturalWidth, height: picture.naturalHeight };
  }

  objectUrl(blob) {
    const url = URL.createObjectURL(blob);
    this.objectUrls.add(url);
    return url;
  }

  showMap(map) {
    if (!map) return;
    this.mapImage.src = map.url;
    this.screen.style.setProperty("--map-ratio", `${map.width} / ${map.height}`);
  }

  /** Forget the visit's drawing and maps. */
  wipe() {
    this.painter.wipe();
    this.mapImage.removeAttribute("src");
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls.clear();
  }
}
