// Lays the map out at its own aspect ratio before the picture has loaded.
//
// The paint page names the map's size in `data-map-ratio` ("width / height");
// this sets it as the `--map-ratio` custom property that kiosk.css sizes the
// stage with. Through the CSSOM, not a style="" attribute, which the
// Content-Security-Policy refuses. paint-page.js updates it when another map
// (a result to keep painting on) is shown.

for (const element of document.querySelectorAll("[data-map-ratio]")) {
  element.style.setProperty("--map-ratio", element.dataset.mapRatio);
}
