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
var LOAD_TIMEOUT_MS = 20000;
var SKIP_DELAY_MS = 5000;
var RELOAD_RETRY_MS = 5 * 60 * 1000;
var UP_NEXT_MAX = 10;

var root = document.getElementById("wall");
var config = {
  socketPath: root.dataset.socketPath,
  seconds: Math.max(1, Number(root.dataset.seconds) || 12),
  maxSlides: Math.max(1, Number(root.dataset.maxSlides) || 60),
  syncMs: Math.max(5, Number(root.dataset.syncSeconds) || 60) * 1000,
  reloadMs: (Number(root.dataset.reloadHours) || 0) * 3600 * 1000
};

var layers = Array.prototype.map.call(root.querySelectorAll(".wall-slide"), function (element) {
  return {
    element: element,
    stage: element.querySelector(".wall-stage"),
    frame: element.querySelector(".wall-frame"),
    before: element.querySelector(".wall-before"),
    after: element.querySelector(".wall-after"),
    featured: element.querySelector(".wall-featured"),
    title: element.querySelector(".wall-title"),
    wish: element.querySelector(".wall-wish"),
    meta: element.querySelector(".wall-meta"),
    qr: element.querySelector(".wall-qr img")
  };
});
var emptyState = root.querySelector(".wall-empty");
var statusLine = root.querySelector(".wall-status");

var state = {
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
  for (var i = 0; i < state.slides.length; i++) {
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
  var others = state.slides.filter(function (item) { return item.slug !== slide.slug; });
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
  var shown = state.pending !== null ? state.pending : state.current;
  if (shown === null || indexOf(shown) < 0) {
    showNext();  // the wall was empty, or what it shows (or is about to) was withdrawn
  }
}

function pickNext() {
  while (state.upNext.length) {
    var wanted = indexOf(state.upNext.shift());
    if (wanted >= 0) return wanted;
  }
  if (!state.slides.length) return -1;
  var at = indexOf(state.current);
  return (at >= 0 ? at + 1 : state.position) % state.slides.length;
}

// --- showing slides ----------------------------------------------------------------

function showNext() {
  clearTimeout(state.slideTimer);
  var index = pickNext();
  if (index < 0) {
    showEmpty();
    return;
  }
  var slide = state.slides[index];
  var token = ++state.loadToken;
  var layer = layers[1 - state.front];
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
  layer.qr.src = slide.qr_url;
  var timer = 0;
  var timeout = new Promise(function (resolve) {
    timer = setTimeout(function () { resolve(false); }, LOAD_TIMEOUT_MS);
  });
  var decoded = Promise.all([layer.before.decode(), layer.after.decode()]).then(
    function () { return true; },
    function () { return false; }
  );
  return Promise.race([decoded, timeout]).then(function (loaded) {
    clearTimeout(timer);
    return loaded;
  });
}

function present(layer, slide) {
  var previous = layers[state.front];
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
  var heading = slide.title || slide.wish;
  layer.title.textContent = heading;
  layer.wish.textContent = slide.wish;
  layer.wish.hidden = !slide.title;  // without a title the wish is the heading
  layer.featured.hidden = !slide.featured;
  var meta = [];
  if (slide.name) meta.push(interpolate(gettext("by %(name)s"), { name: slide.name }, true));
  if (slide.world) meta.push(interpolate(gettext("Map: %(world)s"), { world: slide.world }, true));
  layer.meta.textContent = meta.join(" · ");
  layer.before.alt = gettext("The map before the wish");
  layer.after.alt = interpolate(gettext("The map after the wish “%(wish)s”"), { wish: slide.wish }, true);
}

function fitFrame(layer) {
  // The frame takes the picture's shape, so the wipe's edge runs along the picture itself.
  var width = layer.after.naturalWidth || layer.before.naturalWidth;
  var height = layer.after.naturalHeight || layer.before.naturalHeight;
  var box = layer.stage.getBoundingClientRect();
  if (!width || !height || !box.width || !box.height) {
    layer.frame.style.width = layer.frame.style.height = "";
    return;
  }
  var scale = Math.min(box.width / width, box.height / height);
  layer.frame.style.width = Math.floor(width * scale) + "px";
  layer.frame.style.height = Math.floor(height * scale) + "px";
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

root.style.setProperty("--slide-seconds", config.seconds + "s");
root.style.setProperty("--wipe-delay", (config.seconds * 0.3).toFixed(2) + "s");
root.style.setProperty("--wipe-duration", Math.min(2.5, config.seconds * 0.25).toFixed(2) + "s");
window.addEventListener("resize", function () { fitFrame(layers[state.front]); });
document.addEventListener("click", goFullscreen);
document.addEventListener("keydown", function (event) {
  if (event.key === "f" || event.key === "Enter") goFullscreen();
});

var initial = document.getElementById("wall-playlist");
setPlaylist(initial ? JSON.parse(initial.textContent) : []);
socket.start();
if (config.reloadMs > 0) setTimeout(reloadWhenServerAnswers, config.reloadMs);
