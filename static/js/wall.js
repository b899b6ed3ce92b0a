/* The gallery wall: approved creations as a slideshow, kept current over /ws/wall/.
 *
 * The wall runs for days on a screen nobody touches, so everything it holds is
 * bounded: two slide elements take turns (their <img>s are reused), the
 * playlist is capped at the server's maximum, and there is one slide timer,
 * one reconnect timer, one sync interval and one resize listener. After a
 * server restart the socket (shared/socket.js) reconnects with exponential backoff; every
 * `sync` interval it asks for a fresh snapshot, which also heals any missed
 * message, and a socket that stays silent is replaced. As a last resort the
 * page reloads itself every few hours, but only once the server answers.
 *
 * Messages (see gallery/wall.py): snapshot {slides}, added {slide},
 * updated {slide}, removed {slug}. A newly approved creation is shown next.
 */
import { ReconnectingSocket } from "./shared/socket.js";

const { gettext, interpolate } = window;

const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 60000;
const LOAD_TIMEOUT_MS = 20000;
const SKIP_DELAY_MS = 5000;
const RELOAD_RETRY_MS = 5 * 60 * 1000;
const UP_NEXT_MAX = 10;

const root = document.getElementById("wall");
const config = {
  socketPath: root.dataset.socketPath,
  seconds: Math.max(1, Number(root.dataset.seconds) || 12),
  maxSlides: Math.max(1, Number(root.dataset.maxSlides) || 60),
  syncMs: Math.max(5, Number(root.dataset.syncSeconds) || 60) * 1000,
  reloadMs: (Number(root.dataset.reloadHours) || 0) * 3600 * 1000
};

const layers = Array.prototype.map.call(root.querySelectorAll(".wall-slide"), function (element) {
  return {
    element: element,
    stage: element.querySelector(".wall-stage"),
    frame: element.querySelector(".wall-frame"),
    canvas: element.querySelector(".wall-canvas"),
    overview: element.querySelector(".wall-overview img"),
    overviewBox: element.querySelector(".wall-overview-box"),
    before: element.querySelector(".wall-before"),
    after: element.querySelector(".wall-after"),
    featured: element.querySelector(".wall-featured"),
    title: element.querySelector(".wall-title"),
    wish: element.querySelector(".wall-wish"),
    meta: element.querySelector(".wall-meta"),
    qr: element.querySelector(".wall-qr img")
  };
});
const emptyState = root.querySelector(".wall-empty");
const statusLine = root.querySelector(".wall-status");

const state = {
  slides: [],        // in wall order, at most config.maxSlides
  upNext: [],        // slugs of newly approved creations, shown before the rest
  current: null,     // slug on screen, null while the wall is empty
  pending: null,     // slug being loaded to come next
  position: 0,       // where the current slide stood in the playlist
  front: 0,          // the layer on screen
  slideTimer: 0,
  loadToken: 0
};

// --- the playlist ----------------------------------------------------------------

function byWallOrder(a, b) {
  if (a.featured !== b.featured) return a.featured ? -1 : 1;
  return Date.parse(b.created) - Date.parse(a.created);
}

function indexOf(slug) {
  for (let i = 0; i < state.slides.length; i++) {
    if (state.slides[i].slug === slug) return i;
  }
  return -1;
}

function setPlaylist(slides) {
  state.slides = slides.slice().sort(byWallOrder).slice(0, config.maxSlides);
  state.upNext = state.upNext.filter(function (slug) { return indexOf(slug) >= 0; });
  afterPlaylistChange();
}

function upsert(slide, showSoon) {
  const others = state.slides.filter(function (item) { return item.slug !== slide.slug; });
  others.push(slide);
  state.slides = others.sort(byWallOrder).slice(0, config.maxSlides);
  if (showSoon && indexOf(slide.slug) >= 0 && state.upNext.indexOf(slide.slug) < 0) {
    state.upNext.push(slide.slug);
    if (state.upNext.length > UP_NEXT_MAX) state.upNext.shift();
  }
  if (slide.slug === state.current) fillCaption(layers[state.front], slide);
  afterPlaylistChange();
}

function remove(slug) {
  state.slides = state.slides.filter(function (item) { return item.slug !== slug; });
  state.upNext = state.upNext.filter(function (item) { return item !== slug; });
  afterPlaylistChange();
}

function afterPlaylistChange() {
  if (!state.slides.length) {
    showEmpty();
    return;
  }
  const shown = state.pending !== null ? state.pending : state.current;
  if (shown === null || indexOf(shown) < 0) {
    showNext();  // the wall was empty, or what it shows (or is about to) was withdrawn
  }
}

function pickNext() {
  while (state.upNext.length) {
    const wanted = indexOf(state.upNext.shift());
    if (wanted >= 0) return wanted;
  }
  if (!state.slides.length) return -1;
  const at = indexOf(state.current);
  return (at >= 0 ? at + 1 : state.position) % state.slides.length;
}

// --- showing slides ----------------------------------------------------------------

function showNext() {
  clearTimeout(state.slideTimer);
  const index = pickNext();
  if (index < 0) {
    showEmpty();
    return;
  }
  const slide = state.slides[index];
  const token = ++state.loadToken;
  const layer = layers[1 - state.front];
  state.pending = slide.slug;
  load(layer, slide).then(function (loaded) {
    if (token !== state.loadToken) return;  // a newer change took over
    state.pending = null;
    if (loaded) {
      present(layer, slide);
      state.slideTimer = setTimeout(showNext, config.seconds * 1000);
    } else {
      // The pictures are gone (the creation was just withdrawn): move on; the next sync tidies up.
      state.current = slide.slug;
      state.position = index;
      state.slideTimer = setTimeout(showNext, SKIP_DELAY_MS);
    }
  });
}

function load(layer, slide) {
  layer.element.classList.remove("is-playing");
  layer.before.src = slide.before_url;
  layer.after.src = slide.after_url;
  layer.overview.src = slide.before_url;  // the same picture: loaded once
  layer.qr.src = slide.qr_url;
  let timer = 0;
  const timeout = new Promise(function (resolve) {
    timer = setTimeout(function () { resolve(false); }, LOAD_TIMEOUT_MS);
  });
  const decoded = Promise.all([layer.before.decode(), layer.after.decode()]).then(
    function () { return true; },
    function () { return false; }
  );
  return Promise.race([decoded, timeout]).then(function (loaded) {
    clearTimeout(timer);
    return loaded;
  });
}

function present(layer, slide) {
  const previous = layers[state.front];
  layer.slide = slide;
  fillCaption(layer, slide);
  fitFrame(layer);
  void layer.element.offsetWidth;  // restart the wipe even when the same slide plays again
  layer.element.classList.add("is-visible", "is-playing");
  layer.element.setAttribute("aria-hidden", "false");
  if (previous !== layer) {
    previous.element.classList.remove("is-visible");
    previous.element.setAttribute("aria-hidden", "true");
  }
  state.front = layers.indexOf(layer);
  state.current = slide.slug;
  state.position = indexOf(slide.slug);
  emptyState.hidden = true;
}

function fillCaption(layer, slide) {
  const heading = slide.title || slide.wish;
  layer.title.textContent = heading;
  layer.wish.textContent = slide.wish;
  layer.wish.hidden = !slide.title;  // without a title the wish is the heading
  layer.featured.hidden = !slide.featured;
  const meta = [];
  if (slide.name) meta.push(interpolate(gettext("by %(name)s"), { name: slide.name }, true));
  if (slide.world) meta.push(interpolate(gettext("Map: %(world)s"), { world: slide.world }, true));
  layer.meta.textContent = meta.join(" · ");
  layer.before.alt = gettext("The map before the wish");
  layer.after.alt = interpolate(gettext("The map after the wish “%(wish)s”"), { wish: slide.wish }, true);
}

function fitFrame(layer) {
  // The frame takes the shape of what it ends on, so the wipe's edge runs along the
  // picture itself: the change's frame (slide.frame, in the map's pixels), or the whole map.
  const width = layer.after.naturalWidth || layer.before.naturalWidth;
  const height = layer.after.naturalHeight || layer.before.naturalHeight;
  const box = layer.stage.getBoundingClientRect();
  const style = layer.frame.style;
  if (!width || !height || !box.width || !box.height) {
    style.width = style.height = "";
    return;
  }
  const view = framedView(layer.slide && layer.slide.frame, width, height);
  const scale = Math.min(box.width / view.width, box.height / view.height);
  style.width = Math.floor(view.width * scale) + "px";
  style.height = Math.floor(view.height * scale) + "px";
  // The whole map laid out at the frame's scale (drawn sharp where the move ends), moved
  // from showing all of it to showing the frame (wall.css animates through the steps).
  const canvas = layer.canvas.style;
  canvas.width = width * scale + "px";
  canvas.height = height * scale + "px";
  zoomSteps(view, width, height).forEach(function (step, index) {
    style.setProperty("--zoom-" + index, "translate(" + (-step.left * scale * step.factor) + "px, "
      + (-step.top * scale * step.factor) + "px) scale(" + step.factor + ")");
  });
  // The wipe runs across the frame only: insets in percent of the whole map.
  style.setProperty("--wipe-from", (100 - 100 * view.left / width) + "%");
  style.setProperty("--wipe-to", (100 - 100 * (view.left + view.width) / width) + "%");
  layer.frame.classList.toggle("is-framed", view.framed);
  // Where the frame lies on the whole map: a small map in the corner once the move is done.
  const marker = layer.overviewBox.style;
  marker.left = 100 * view.left / width + "%";
  marker.top = 100 * view.top / height + "%";
  marker.width = 100 * view.width / width + "%";
  marker.height = 100 * view.height / height + "%";
  layer.overview.parentNode.style.aspectRatio = width + " / " + height;
}

/**
 * The move's keyframes (wall.css: ZOOM_STEPS + 1 of them, run linearly): the window onto the
 * map shrinks from all of it (in the frame's shape) to the frame by a constant ratio per
 * moment, eased in and out, so the move feels even from the first metre to the last; the
 * window's corner travels in step with its size. `factor` is how much larger than the
 * frame's scale the map is drawn.
 */
const ZOOM_STEPS = 8;

function zoomSteps(view, width, height) {
  const fit = Math.min(view.width / width, view.height / height);
  const start = { width: view.width / fit, height: view.height / fit };
  start.left = (width - start.width) / 2;
  start.top = (height - start.height) / 2;
  const steps = [];
  for (let i = 0; i <= ZOOM_STEPS; i++) {
    const t = i / ZOOM_STEPS;
    const eased = t * t * (3 - 2 * t);
    const windowWidth = start.width * Math.pow(view.width / start.width, eased);
    const travelled = start.width > view.width
      ? (start.width - windowWidth) / (start.width - view.width) : 1;
    steps.push({
      factor: view.width / windowWidth,
      left: start.left + (view.left - start.left) * travelled,
      top: start.top + (view.top - start.top) * travelled
    });
  }
  return steps;
}

/** The part of the map a slide ends on, in the pictures' pixels: the frame, or all of it. */
function framedView(frame, width, height) {
  const whole = { left: 0, top: 0, width: width, height: height, framed: false };
  if (!frame || !frame.box || !frame.size || !frame.size[0] || !frame.size[1]) return whole;
  const sx = width / frame.size[0];
  const sy = height / frame.size[1];
  const box = frame.box;
  const view = {
    left: box[0] * sx, top: box[1] * sy,
    width: (box[2] - box[0]) * sx, height: (box[3] - box[1]) * sy, framed: true
  };
  return view.width > 0 && view.height > 0 && (view.width < width || view.height < height)
    ? view : whole;
}

function showEmpty() {
  clearTimeout(state.slideTimer);
  state.loadToken++;
  state.current = null;
  state.pending = null;
  layers.forEach(function (layer) {
    layer.element.classList.remove("is-visible", "is-playing");
    layer.element.setAttribute("aria-hidden", "true");
    layer.before.removeAttribute("src");  // lets the browser drop the pictures
    layer.after.removeAttribute("src");
    layer.overview.removeAttribute("src");
    layer.qr.removeAttribute("src");
  });
  emptyState.hidden = false;
}

// --- the websocket -------------------------------------------------------------------

// Reconnects with backoff (see shared/socket.js); every sync interval it asks
// for a fresh snapshot, and a socket silent for three intervals is replaced.
const socket = new ReconnectingSocket(config.socketPath, {
  minDelayMs: FIRST_RETRY_MS,
  maxDelayMs: LAST_RETRY_MS,
  sync: { everyMs: config.syncMs, deadAfterMs: 3 * config.syncMs, message: () => ({ action: "sync" }) },
  onOpen: () => setStatus(""),
  onMessage: (message) => receive(message),
  onDown: () => setStatus(gettext("Connection lost – reconnecting…")),
});

function receive(message) {
  if (message.type === "snapshot") {
    if (message.max_slides) config.maxSlides = message.max_slides;
    setPlaylist(message.slides || []);
  } else if (message.type === "added") {
    upsert(message.slide, true);
  } else if (message.type === "updated") {
    upsert(message.slide, false);
  } else if (message.type === "removed") {
    remove(message.slug);
  }
}

function setStatus(text) {
  statusLine.textContent = text;
}

// --- the last resort -------------------------------------------------------------------

function reloadWhenServerAnswers() {
  // A reload while the server is down would leave an error page that never recovers.
  fetch(location.href, { method: "HEAD", cache: "no-store" }).then(
    function (response) {
      if (response.ok) location.reload();
      else setTimeout(reloadWhenServerAnswers, RELOAD_RETRY_MS);
    },
    function () { setTimeout(reloadWhenServerAnswers, RELOAD_RETRY_MS); }
  );
}

function goFullscreen() {
  if (!document.fullscreenElement && document.documentElement.requestFullscreen) {
    document.documentElement.requestFullscreen().catch(function () {});
  }
}

// --- start ------------------------------------------------------------------------------

// A slide's timeline: it fades in on the whole map, moves slowly into the change's
// frame, then the wipe from before to after runs across the frame; then it rests.
const ZOOM_DELAY_S = 0.8;
const zoomSeconds = config.seconds * 0.3;
root.style.setProperty("--slide-seconds", config.seconds + "s");
root.style.setProperty("--zoom-delay", ZOOM_DELAY_S + "s");
root.style.setProperty("--zoom-duration", zoomSeconds.toFixed(2) + "s");
root.style.setProperty("--wipe-delay", (ZOOM_DELAY_S + zoomSeconds + 0.2).toFixed(2) + "s");
root.style.setProperty("--wipe-duration", Math.min(2.5, config.seconds * 0.25).toFixed(2) + "s");
window.addEventListener("resize", function () { fitFrame(layers[state.front]); });
document.addEventListener("click", goFullscreen);
document.addEventListener("keydown", function (event) {
  if (event.key === "f" || event.key === "Enter") goFullscreen();
});

const initial = document.getElementById("wall-playlist");
setPlaylist(initial ? JSON.parse(initial.textContent) : []);
socket.start();
if (config.reloadMs > 0) setTimeout(reloadWhenServerAnswers, config.reloadMs);
