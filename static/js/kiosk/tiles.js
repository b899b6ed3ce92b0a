// A big map shown from its tile pyramid (the IIIF Image API, iiif/), sharp at every zoom.
//
// The paint view (view.js) lays the stage's content out at `zoom` times the
// stage's size; under the map's overview picture (#map-image, a small copy)
// this layer places the tiles the view needs: those of the visible part of the
// map, from the pyramid level whose pixels are at least as fine as the
// screen's. Each tile is an <img> placed in percentages of the content, so it
// stays in place while the view moves; tiles of the level shown before stay
// until the new level's tiles have arrived, and then go, so the browser holds
// only the tiles of the screen (a 16384² map is never in memory whole).
// A tile the server cannot give yet (503 while the pyramid is made) is asked
// for again a little later.
//
// Also the results of wishes on a huge map (`patches`, each a repainted
// window with its place on the map) are laid over the tiles here.

const TILE = 512; // the tile side the server's info.json offers
const RETRY_MILLISECONDS = 3000;

export class TileLayer {
  /**
   * @param {{content: HTMLElement, stage: HTMLElement, before: HTMLElement}} options
   *   the tiles are inserted into `content` before `before` (the drawing layer).
   */
  constructor({ content, stage, before }) {
    this.stage = stage;
    this.layer = document.createElement("div");
    this.layer.className = "tile-layer";
    this.layer.setAttribute("aria-hidden", "true");
    this.patches = document.createElement("div");
    this.patches.className = "patch-layer";
    this.patches.setAttribute("aria-hidden", "true");
    content.insertBefore(this.layer, before);
    content.insertBefore(this.patches, before);
    this.map = null;
    this.tiles = new Map(); // url -> {img, level, loaded}
    this.level = 0;
    this.view = null;
  }

  /** Show `map` ({tiles: image service URL, width, height, patches}) or, without tiles, nothing. */
  show(map) {
    const service = map?.tiles || null;
    if (!this.map || this.map.tiles !== service) this.clear();
    this.map = service ? map : null;
    this.showPatches(map);
    if (this.view) this.update(this.view);
  }

  clear() {
    for (const tile of this.tiles.values()) tile.img.remove();
    this.tiles.clear();
  }

  /** The repainted windows of the wishes on this map so far, each over its place. */
  showPatches(map) {
    this.patches.replaceChildren(...(map?.patches || []).map((patch) => {
      const img = document.createElement("img");
      img.className = "patch";
      img.alt = "";
      img.draggable = false;
      img.src = patch.url;
      place(img, patch.box, map);
      return img;
    }));
  }

  /** After every change of the view (view.js's onChange): the tiles the screen needs now. */
  update(view) {
    this.view = view;
    const map = this.map;
    if (!map) return;
    const stageWidth = this.stage.clientWidth;
    const stageHeight = this.stage.clientHeight;
    if (!stageWidth || !stageHeight) return;
    const contentWidth = stageWidth * view.zoom;
    const contentHeight = stageHeight * view.zoom;
    // Map pixels per device pixel; the coarsest level that is still at least as fine.
    const coarseness = map.width / (contentWidth * (window.devicePixelRatio || 1));
    const level = Math.max(0, Math.floor(Math.log2(Math.max(1, coarseness))));
    const scale = 2 ** level;
    const side = TILE * scale; // a tile's side in map pixels
    const toMapX = map.width / contentWidth;
    const toMapY = map.height / contentHeight;
    const left = Math.max(0, -view.x * toMapX);
    const top = Math.max(0, -view.y * toMapY);
    const right = Math.min(map.width, (stageWidth - view.x) * toMapX);
    const bottom = Math.min(map.height, (stageHeight - view.y) * toMapY);
    const wanted = new Set();
    for (let row = Math.floor(top / side); row * side < bottom; row += 1) {
      for (let column = Math.floor(left / side); column * side < right; column += 1) {
        const box = [column * side, row * side,
          Math.min(side, map.width - column * side), Math.min(side, map.height - row * side)];
        const url = `${map.tiles}/${box.join(",")}/${Math.ceil(box[2] / scale)},/0/default.jpg`;
        wanted.add(url);
        if (!this.tiles.has(url)) this.add(url, box, level);
      }
    }
    this.level = level;
    this.wanted = wanted;
    this.prune();
  }

  add(url, box, level) {
    const img = document.createElement("img");
    img.className = "tile";
    img.alt = "";
    img.draggable = false;
    img.decoding = "async";
    img.dataset.level = String(level);
    img.style.zIndex = String(64 - level); // finer levels above coarser ones
    place(img, box, this.map);
    const tile = { img, level, loaded: false };
    img.addEventListener("load", () => {
      tile.loaded = true;
      this.prune();
    });
    img.addEventListener("error", () => {
      img.removeAttribute("src");
      setTimeout(() => {
        if (this.tiles.get(url) === tile) img.src = url;
      }, RETRY_MILLISECONDS);
    });
    img.src = url;
    this.tiles.set(url, tile);
    this.layer.append(img);
  }

  /** Drop tiles off the screen, and other levels' tiles once the wanted ones have arrived. */
  prune() {
    if (!this.wanted) return;
    const complete = [...this.wanted].every((url) => this.tiles.get(url)?.loaded);
    for (const [url, tile] of this.tiles) {
      if (this.wanted.has(url)) continue;
      if (tile.level === this.level || complete || !tile.loaded) {
        tile.img.remove();
        this.tiles.delete(url);
      }
    }
    this.layer.dataset.complete = complete ? "true" : "false";
  }
}

/** Place an element over `box` (x, y, w, h in map pixels) of the content, in percentages. */
function place(element, [x, y, width, height], map) {
  element.style.left = `${(100 * x) / map.width}%`;
  element.style.top = `${(100 * y) / map.height}%`;
  element.style.width = `${(100 * width) / map.width}%`;
  element.style.height = `${(100 * height) / map.height}%`;
}
