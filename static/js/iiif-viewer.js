// Deep zoom of a IIIF Presentation 3 manifest with OpenSeadragon (vendored:
// static/vendor/openseadragon/), for every [data-iiif-viewer] of the page
// (templates/iiif/deep_zoom.html): a creation's page, the viewer page.
//
// The manifest's first canvas is painted with one image or a Choice of images
// (a creation: after, then before). Each image's Image API service becomes an
// OpenSeadragon tile source (its info.json); all lie on the same place, and
// only the chosen one is shown, so switching keeps the zoom and position.
// The container's `data-state` says "loading", "ready" (the first picture's
// tiles for the view have arrived) or "failed".

const { gettext, OpenSeadragon } = window;

export async function showManifest(container) {
  const view = container.querySelector(".deep-zoom-view");
  try {
    const response = await fetch(container.dataset.manifest, {
      headers: { Accept: "application/ld+json" },
    });
    if (!response.ok) throw new Error(`${container.dataset.manifest} answered ${response.status}`);
    const images = paintedImages(await response.json());
    const services = images.map(imageService);
    if (!services.length || services.includes(null)) throw new Error("no image service");
    translateControls();
    const viewer = OpenSeadragon({
      element: view,
      prefixUrl: container.dataset.images,
      tileSources: services.map((service, index) => ({
        tileSource: `${service}/info.json`, opacity: index === 0 ? 1 : 0,
      })),
      showNavigator: false,
      showRotationControl: false,
      gestureSettingsTouch: { pinchRotate: false },
      visibilityRatio: 0.5,
      maxZoomPixelRatio: 2,
      crossOriginPolicy: false,
    });
    viewer.addHandler("open-failed", () => failed(container));
    viewer.world.addHandler("add-item", (event) => {
      if (viewer.world.getIndexOfItem(event.item) !== 0) return;
      const ready = () => {
        if (event.item.getFullyLoaded()) container.dataset.state = "ready";
      };
      event.item.addHandler("fully-loaded-change", ready);
      ready();
    });
    offerChoice(container, viewer, images);
    container.viewer = viewer; // for tests and the browser's console
  } catch (error) {
    console.warn("deep zoom:", error);
    failed(container);
  }
}

/** The images painted on the manifest's first canvas: one, or a Choice's items. */
export function paintedImages(manifest) {
  const canvas = manifest.items?.[0];
  const annotation = canvas?.items?.[0]?.items?.find((item) => item.motivation === "painting");
  const body = annotation?.body;
  if (!body) return [];
  return body.type === "Choice" ? body.items : [body];
}

function imageService(image) {
  const service = [].concat(image.service || []).find(
    (candidate) => (candidate.type || candidate["@type"] || "").startsWith("ImageService"),
  );
  return service ? (service.id || service["@id"]).replace(/\/$/, "") : null;
}

/** A language map's text in the page's language, else without one, else any. */
export function inLanguage(map) {
  if (!map) return "";
  const language = document.documentElement.lang || "de";
  const texts = map[language] || map.none || Object.values(map)[0] || [];
  return texts.join(" ");
}

function offerChoice(container, viewer, images) {
  const choice = container.querySelector(".deep-zoom-choice");
  if (!choice || images.length < 2) return;
  images.forEach((image, index) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "deep-zoom-image";
    input.value = String(index);
    input.checked = index === 0;
    input.addEventListener("change", () => {
      for (let item = 0; item < viewer.world.getItemCount(); item += 1) {
        viewer.world.getItemAt(item).setOpacity(item === index ? 1 : 0);
      }
    });
    label.append(input, inLanguage(image.label) || String(index + 1));
    choice.append(label);
  });
  choice.hidden = false;
}

function failed(container) {
  container.dataset.state = "failed";
  const problem = container.querySelector(".deep-zoom-problem");
  if (problem) problem.hidden = false;
}

function translateControls() {
  const strings = {
    "Tooltips.ZoomIn": gettext("Zoom in"),
    "Tooltips.ZoomOut": gettext("Zoom out"),
    "Tooltips.Home": gettext("Whole picture"),
    "Tooltips.FullPage": gettext("Full screen"),
  };
  for (const [key, text] of Object.entries(strings)) OpenSeadragon.setString(key, text);
}

for (const container of document.querySelectorAll("[data-iiif-viewer]")) showManifest(container);
