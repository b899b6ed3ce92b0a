// The regions of a map for the select tool: one tap selects a field, a lake or
// a block of houses along the map's own edges.
//
// A worker cuts each map into regions once (inpainting_core/segmentation.py)
// and the kiosk fetches the label picture (kiosk/regions.py): an RGB PNG whose
// red channel is the low byte of a region's id and green its high byte, at a
// bounded resolution. A tap is then answered in the browser: the id under the
// finger, and the region's pixels as a small canvas the painter scales onto
// the map-sized drawing layer.


const PAINT = [228, 65, 43]; // the painter's colour, #e4412b
const POLL_MILLISECONDS = [500, 1000, 1000, 2000, 2000, 3000, 5000, 5000, 10000, 10000];

export class Regions {
  /** @param {ImageData} data the label picture's pixels */
  constructor(data) {
    this.width = data.width;
    this.height = data.height;
    const pixels = data.data;
    this.labels = new Uint16Array(this.width * this.height);
    for (let index = 0, offset = 0; index < this.labels.length; index += 1, offset += 4) {
      this.labels[index] = pixels[offset] | (pixels[offset + 1] << 8);
    }
    this.masks = new Map();
  }

  /** The region under a point given as a share (0..1) of the map's width and height. */
  labelAt(u, v) {
    const x = Math.min(this.width - 1, Math.max(0, Math.floor(u * this.width)));
    const y = Math.min(this.height - 1, Math.max(0, Math.floor(v * this.height)));
    return this.labels[y * this.width + x];
  }

  /** Where a region lies: [u0, v0, u1, v1] as shares (0..1) of the map's width and height. */
  bounds(label) {
    let box = this.boxes?.get(label);
    if (box) return box;
    let [x0, y0, x1, y1] = [this.width, this.height, 0, 0];
    for (let index = 0; index < this.labels.length; index += 1) {
      if (this.labels[index] !== label) continue;
      const x = index % this.width;
      const y = (index - x) / this.width;
      if (x < x0) x0 = x;
      if (x >= x1) x1 = x + 1;
      if (y < y0) y0 = y;
      if (y >= y1) y1 = y + 1;
    }
    box = [x0 / this.width, y0 / this.height, x1 / this.width, y1 / this.height];
    this.boxes = this.boxes || new Map();
    this.boxes.set(label, box);
    return box;
  }

  /** The region's pixels in the painter's colour on transparency, at the label picture's size. */
  mask(label) {
    let canvas = this.masks.get(label);
    if (canvas) return canvas;
    canvas = document.createElement("canvas");
    canvas.width = this.width;
    canvas.height = this.height;
    const context = canvas.getContext("2d");
    const image = context.createImageData(this.width, this.height);
    const pixels = image.data;
    for (let index = 0; index < this.labels.length; index += 1) {
      if (this.labels[index] !== label) continue;
      const offset = index * 4;
      pixels[offset] = PAINT[0];
      pixels[offset + 1] = PAINT[1];
      pixels[offset + 2] = PAINT[2];
      pixels[offset + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    this.masks.set(label, canvas);
    return canvas;
  }
}

/** Read a label picture; its bytes exactly, without colour management. */
export async function regionsFrom(blob) {
  const bitmap = await createImageBitmap(blob, {
    colorSpaceConversion: "none", premultiplyAlpha: "none",
  });
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return new Regions(context.getImageData(0, 0, canvas.width, canvas.height));
}

/**
 * Fetch a map's regions. The server answers 202 while a worker is still making
 * them: ask again a little later, a minute in all. Resolves to null when there
 * are none (yet): the select tool then stays off for this map.
 */
export async function loadRegions(address, { stillWanted = () => true } = {}) {
  for (let attempt = 0; attempt <= POLL_MILLISECONDS.length; attempt += 1) {
    if (!stillWanted()) return null;
    let response;
    try {
      response = await fetch(address, { credentials: "same-origin" });
    } catch (error) {
      response = null;
    }
    if (response?.status === 200) return regionsFrom(await response.blob());
    if (response && response.status !== 202 && response.status < 500) return null;
    if (attempt === POLL_MILLISECONDS.length) return null;
    await new Promise((resolve) => setTimeout(resolve, POLL_MILLISECONDS[attempt]));
  }
  return null;
}

