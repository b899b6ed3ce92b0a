// The paint screen: paint a place, make a wish, watch it being painted, compare,
// keep painting or hand the result to the gallery.
//
// The screen moves through these states (the `data-state` of #paint-screen,
// which the CSS uses to show the matching panel):
//   painting -> submitting -> running -> result -> gallery -> done
// and back to painting after a failure, a cancel, or "keep painting". A map
// is {source, jobId?, resultUrl?, blob, url, width, height}: the World's
// picture or a result, held as a blob so that it can be sent as the next map.

import { Compare } from "./compare.js";
import { idle, kioskConfig, onReset } from "./idle.js";
import { JobWatcher } from "./job.js";
import { Painter } from "./painter.js";

const { gettext, ngettext, interpolate } = window;
const config = kioskConfig();
const DRAFT_KEY = "olpe-kiosk-draft";
// A picture that cannot be fetched is asked for again after 1, 2 and 3 seconds
// when the reason may pass (rate limit, a restarting server).
const FETCH_ATTEMPTS = 4;
const PASSING_STATUSES = new Set([429, 500, 502, 503, 504]);
const byId = (id) => document.getElementById(id);

const STATES = {
  painting: ["wish-form"],
  submitting: ["wish-form", "job-status"],
  running: ["wish-form", "job-status"],
  result: ["result-panel"],
  gallery: ["gallery-form"],
  done: ["gallery-done"],
};
const PANELS = ["wish-form", "job-status", "result-panel", "gallery-form", "gallery-done"];
// Where the API's refusal of a wish is shown: its own field, or the general problem box.
const FIELD_ORDER = ["prompt", "mask", "image", "style", "engine", "guidance", "world"];

function csrfToken() {
  return document.querySelector("#kiosk-reset [name=csrfmiddlewaretoken]").value;
}

function wait(milliseconds) {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

async function fetchPicture(address) {
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(address, { credentials: "same-origin" });
    if (response.ok) return response.blob();
    if (attempt >= FETCH_ATTEMPTS || !PASSING_STATUSES.has(response.status)) {
      throw new Error(`${address} answered ${response.status}`);
    }
    await wait(1000 * attempt);
  }
}

class PaintPage {
  constructor() {
    this.screen = byId("paint-screen");
    this.mapImage = byId("map-image");
    this.form = byId("wish-form");
    this.wish = byId("wish");
    this.painter = new Painter(byId("paint-layer"), {
      onChange: () => this.refreshControls(),
      onMapChange: (map) => this.showMap(map),
    });
    this.compare = new Compare({
      root: byId("compare"),
      before: byId("compare-before"),
      after: byId("compare-after"),
      range: byId("compare-range"),
      control: byId("compare-control"),
    });
    this.state = "painting";
    this.worldMap = null;
    this.job = null; // {id, url, websocket_url, map}
    this.watcher = null;
    this.releaseIdle = null;
    this.result = null; // {jobId, map, before, notice}
    this.retryAction = null;
    this.objectUrls = new Set();
  }

  async start() {
    this.bindTools();
    this.bindWish();
    this.bindJob();
    this.bindResult();
    this.bindGallery();
    byId("language-form").addEventListener("submit", () => this.saveDraft());
    onReset(() => this.wipe());
    this.setState("painting");
    try {
      this.worldMap = await this.loadMap({ source: "world" });
    } catch (error) {
      this.showProblem(gettext("The map could not be loaded. Please choose it again."), () =>
        window.location.reload());
      return;
    }
    this.painter.setBaseMap(this.worldMap);
    await this.restoreDraft();
  }

  // --- maps ---------------------------------------------------------------------

  /** Fetch a map as a blob (it is sent with the next wish) and measure it. */
  async loadMap(reference) {
    const address = reference.source === "world" ? config.world.imageUrl : reference.resultUrl;
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

  // --- painting tools -----------------------------------------------------------

  bindTools() {
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
      if (!(event.ctrlKey || event.metaKey) || this.state !== "painting") return;
      if (event.target instanceof HTMLInputElement && event.target.type === "text") return;
      const key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey) this.painter.undo();
      else if (key === "y" || (key === "z" && event.shiftKey)) this.painter.redo();
      else return;
      event.preventDefault();
    });
  }

  refreshControls() {
    const { canUndo, canRedo, hasPaint } = this.painter.state();
    const painting = this.state === "painting";
    byId("undo").disabled = !painting || !canUndo;
    byId("redo").disabled = !painting || !canRedo;
    byId("clear").disabled = !painting || !hasPaint;
    const hasWish = this.wish.value.trim() !== "";
    byId("generate").disabled = !painting || !hasPaint || !hasWish;
    byId("generate-hint").textContent = painting ? generateHint(hasPaint, hasWish) : "";
  }

  // --- the wish -----------------------------------------------------------------

  bindWish() {
    this.wish.addEventListener("input", () => {
      byId("wish-error").hidden = true;
      this.refreshControls();
    });
    for (const idea of document.querySelectorAll("[data-suggestion]")) {
      idea.addEventListener("click", () => {
        this.wish.value = idea.dataset.suggestion;
        this.wish.focus();
        this.refreshControls();
      });
    }
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.generate();
    });
  }

  canGenerate() {
    const { hasPaint } = this.painter.state();
    return this.state === "painting" && hasPaint && this.wish.value.trim() !== "";
  }

  wishFields(map, mask) {
    const fields = new FormData();
    fields.append("image", map.blob, "map.png");
    fields.append("mask", mask, "mask.png");
    fields.append("prompt", this.wish.value.trim());
    fields.append("style", byId("style").value);
    const fidelity = this.form.querySelector("input[name=fidelity]:checked")?.value;
    if (fidelity in config.fidelity) fields.append("guidance", String(config.fidelity[fidelity]));
    const engine = this.form.querySelector("input[name=engine]:checked");
    if (engine) fields.append("engine", engine.value);
    fields.append("world", String(config.world.id));
    return fields;
  }

  async generate() {
    if (!this.canGenerate()) return;
    this.hideProblem();
    this.setState("submitting");
    byId("cancel-job").disabled = true; // nothing to cancel before the server has the wish
    this.setJobMessage(gettext("Sending your wish …"));
    const map = this.painter.currentMap();
    let response;
    try {
      const fields = this.wishFields(map, await this.painter.maskBlob());
      response = await fetch(config.urls.jobs, {
        method: "POST",
        body: fields,
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
    } catch (error) {
      this.showProblem(
        gettext("The kiosk cannot reach the server right now."), () => this.generate());
      return;
    }
    if (response.status === 202) {
      this.follow(await response.json(), map);
      return;
    }
    await this.refused(response);
  }

  /** Show why the server refused the wish, next to the wish when it is about the words. */
  async refused(response) {
    let body = {};
    try {
      body = await response.json();
    } catch (error) {
      // not JSON: a proxy's error page; the status alone decides below
    }
    if (response.status === 400) {
      const field = FIELD_ORDER.find((name) => body[name]) || Object.keys(body)[0];
      const message = [].concat(body[field] || [])[0] || gettext("This wish cannot be painted.");
      if (field === "prompt") {
        this.setState("painting");
        const error = byId("wish-error");
        error.textContent = message;
        error.hidden = false;
        this.wish.focus();
        return;
      }
      this.showProblem(message, () => this.generate());
      return;
    }
    // The server (or its database) is restarting: that passes, the wish is not at fault.
    const unavailable = gettext("The kiosk is taking a short break. Please try again in a moment.");
    const messages = {
      413: gettext("The picture is too large to send."),
      429: gettext("Many wishes are being painted right now. Please try again in a moment."),
      502: unavailable,
      503: unavailable,
      504: unavailable,
    };
    this.showProblem(messages[response.status] || body.detail
      || gettext("Something went wrong. Please try again."), () => this.generate());
  }

  // --- watching the job -----------------------------------------------------------

  bindJob() {
    byId("cancel-job").addEventListener("click", () => this.cancel());
  }

  follow(job, map) {
    this.job = { id: job.id, url: job.url, websocket_url: job.websocket_url, map };
    this.releaseIdle?.();
    this.releaseIdle = idle.hold();
    this.setState("running");
    byId("cancel-job").disabled = false;
    byId("job-preview-figure").hidden = true;
    this.setProgress(0, 0);
    if (job.position !== undefined) this.onJobMessage({ type: "queued", position: job.position });
    else this.setJobMessage(gettext("Your wish is being painted."));
    const jobId = job.id;
    this.watcher = new JobWatcher(job, {
      onMessage: (message) => this.job?.id === jobId && this.onJobMessage(message),
      onConnection: (connected) => this.showConnection(connected),
      onGone: () => this.jobEnded(() => this.showProblem(
        gettext("Your wish got lost on the way. Please try again."), () => this.generate())),
    }).start();
  }

  onJobMessage(message) {
    switch (message.type) {
      case "queued":
        this.showQueued(Number(message.position) || 0, Boolean(message.retry));
        break;
      case "started":
        this.setJobMessage(gettext("The AI is painting your wish …"), "painting");
        if (message.total) this.setProgress(message.step, message.total);
        break;
      case "progress":
        if (this.jobMessageKind !== "painting") {
          this.setJobMessage(gettext("The AI is painting your wish …"), "painting");
        }
        this.setProgress(message.step, message.total);
        break;
      case "preview":
        this.showPreview(message.data_url);
        break;
      case "succeeded":
        this.jobEnded((job) => this.showResult(
          message.result_url, message.notice ?? message.job?.notice, job.map, job.id));
        break;
      case "failed":
        this.jobEnded(() => this.showProblem(
          message.reason || gettext("The picture could not be painted."), () => this.generate()));
        break;
      case "cancelled":
        this.jobEnded(() => {
          this.setState("painting");
          this.announce(gettext("Cancelled. Your drawing is still there."));
        });
        break;
      default:
        break;
    }
  }

  jobEnded(then) {
    this.watcher?.stop();
    this.watcher = null;
    const job = this.job;
    this.job = null;
    this.releaseIdle?.();
    this.releaseIdle = null;
    byId("job-connection").hidden = true;
    then(job);
  }

  showQueued(position, retry) {
    let text;
    if (position > 1) {
      const ahead = position - 1;
      text = interpolate(ngettext("Your wish is waiting. %(count)s wish is ahead of it.",
        "Your wish is waiting. %(count)s wishes are ahead of it.", ahead), { count: ahead }, true);
    } else {
      text = gettext("Your wish is next.");
    }
    if (retry) text = `${gettext("It is being tried once more.")} ${text}`;
    this.setJobMessage(text, "queued");
    this.setProgress(0, 0);
  }

  setJobMessage(text, kind = "other") {
    this.jobMessageKind = kind;
    byId("job-message").textContent = text;
  }

  setProgress(step, total) {
    const bar = byId("job-progress");
    if (total > 0) {
      bar.max = total;
      bar.value = Math.min(step, total);
      bar.setAttribute("aria-valuetext", interpolate(gettext("Step %(step)s of %(total)s"),
        { step: Math.min(step, total), total }, true));
    } else {
      bar.removeAttribute("value"); // indeterminate: waiting or starting
      bar.removeAttribute("aria-valuetext");
    }
  }

  showPreview(dataUrl) {
    if (typeof dataUrl !== "string" || !dataUrl.startsWith("data:image/")) return;
    byId("job-preview").src = dataUrl;
    byId("job-preview-figure").hidden = false;
  }

  showConnection(connected) {
    const note = byId("job-connection");
    note.hidden = connected;
    note.textContent = connected ? "" : gettext("The connection was interrupted. Reconnecting …");
  }

  async cancel() {
    if (!this.job) return;
    const button = byId("cancel-job");
    button.disabled = true;
    this.setJobMessage(gettext("Cancelling …"));
    const jobId = this.job.id;
    try {
      const response = await fetch(this.job.url, {
        method: "DELETE",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
      const state = await response.json();
      // A waiting job is cancelled at once; a running one stops at its next
      // step and the watcher reports it. A job that finished meanwhile stays.
      if (state.status === "cancelled" && this.job?.id === jobId) {
        this.onJobMessage({ type: "cancelled" });
      }
    } catch (error) {
      if (this.job?.id === jobId) button.disabled = false;
    }
  }

  // --- the result ------------------------------------------------------------------

  bindResult() {
    byId("keep-painting").addEventListener("click", () => this.keepPainting());
    byId("to-gallery").addEventListener("click", () => {
      this.setState("gallery");
      byId("gallery-title").focus();
    });
  }

  async showResult(resultUrl, notice, before, jobId) {
    this.setJobMessage(gettext("Almost done …"));
    let map;
    try {
      map = await this.loadMap({ source: "job", jobId, resultUrl });
    } catch (error) {
      this.showProblem(gettext("Your picture is finished but could not be loaded."),
        () => this.showResult(resultUrl, notice, before, jobId));
      return;
    }
    this.result = { jobId, map, before, notice: notice || "" };
    const noticeLine = byId("result-notice");
    noticeLine.textContent = notice || "";
    noticeLine.hidden = !notice;
    this.compare.show(before.url, map.url);
    this.setState("result");
    byId("result-title").focus();
  }

  keepPainting() {
    if (!this.result) return;
    this.painter.adoptMap(this.result.map);
    this.result = null;
    this.compare.hide();
    this.setState("painting");
    this.announce(gettext("Your picture is now the map. Paint the next place."));
  }

  // --- the gallery -------------------------------------------------------------------

  bindGallery() {
    const form = byId("gallery-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendToGallery(form);
    });
    byId("gallery-back").addEventListener("click", () => this.setState("result"));
  }

  async sendToGallery(form) {
    const error = byId("gallery-error");
    error.hidden = true;
    const button = byId("gallery-submit");
    button.disabled = true;
    try {
      const address = config.urls.gallery.replace(/[0-9a-f-]{36}/, this.result.jobId);
      const response = await fetch(address, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        this.showCreation(body);
        return;
      }
      error.textContent = galleryError(body);
    } catch (problem) {
      error.textContent = gettext("The kiosk cannot reach the server right now.");
    } finally {
      button.disabled = false;
    }
    error.hidden = false;
  }

  showCreation(creation) {
    const code = byId("qr-code");
    // The code is an SVG the kiosk's own server made (segno), not visitor input.
    code.innerHTML = creation.qr_svg;
    code.dataset.url = creation.url;
    this.setState("done");
    byId("gallery-done-title").focus();
  }

  // --- problems and announcements -----------------------------------------------------

  showProblem(message, retry) {
    this.setState("painting");
    this.retryAction = retry;
    byId("problem-text").textContent = message;
    byId("retry").hidden = !retry;
    byId("problem").hidden = false;
    byId("retry").onclick = () => {
      const action = this.retryAction;
      this.hideProblem();
      action?.();
    };
  }

  hideProblem() {
    byId("problem").hidden = true;
    this.retryAction = null;
  }

  announce(text) {
    byId("generate-hint").textContent = text;
  }

  // --- states ------------------------------------------------------------------------

  setState(state) {
    this.state = state;
    this.screen.dataset.state = state;
    const shown = new Set(STATES[state]);
    for (const id of PANELS) byId(id).hidden = !shown.has(id);
    const painting = state === "painting";
    this.painter.setEnabled(painting);
    for (const control of byId("tools").querySelectorAll("input")) control.disabled = !painting;
    for (const control of this.form.querySelectorAll("input, select")) control.disabled = !painting;
    for (const idea of this.form.querySelectorAll("[data-suggestion]")) idea.disabled = !painting;
    byId("paint-layer").hidden = !["painting", "submitting", "running"].includes(state);
    if (!["result", "gallery", "done"].includes(state)) this.compare.hide();
    this.refreshControls();
  }

  // --- one visit only ------------------------------------------------------------------

  wipe() {
    this.watcher?.stop();
    this.watcher = null;
    this.job = null;
    this.result = null;
    this.compare.hide();
    this.painter.wipe();
    this.mapImage.removeAttribute("src");
    byId("job-preview").removeAttribute("src");
    byId("qr-code").replaceChildren();
    this.form.reset();
    byId("gallery-form").reset();
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls.clear();
  }

  // --- switching the language keeps the visit -------------------------------------------

  /** Remember the visit in this tab while the page reloads in the other language. */
  saveDraft() {
    const draft = {
      world: config.world.slug,
      wish: this.wish.value,
      style: byId("style").value,
      fidelity: this.form.querySelector("input[name=fidelity]:checked")?.value,
      engine: this.form.querySelector("input[name=engine]:checked")?.value,
      map: mapReference(this.painter.currentMap()),
      job: this.job && {
        id: this.job.id, url: this.job.url, websocket_url: this.job.websocket_url,
      },
      result: this.result && {
        jobId: this.result.jobId, resultUrl: this.result.map.resultUrl,
        before: mapReference(this.result.before), notice: this.result.notice,
      },
      paint: this.painter.state().hasPaint ? this.painter.maskDataUrl() : null,
    };
    storeDraft(draft) || storeDraft({ ...draft, paint: null });
  }

  async restoreDraft() {
    const draft = takeDraft();
    if (!draft || draft.world !== config.world.slug) return;
    this.wish.value = draft.wish || "";
    if (draft.style) byId("style").value = draft.style;
    for (const name of ["fidelity", "engine"]) {
      const selector = `input[name=${name}][value="${CSS.escape(draft[name] || "")}"]`;
      const input = draft[name] && this.form.querySelector(selector);
      if (input) input.checked = true;
    }
    try {
      const map = await this.mapFor(draft.map);
      if (map !== this.worldMap) this.painter.adoptMap(map);
      if (draft.paint) this.painter.restorePaint(await pictureFrom(draft.paint));
      if (draft.job) this.follow(draft.job, map);
      else if (draft.result) {
        const before = await this.mapFor(draft.result.before);
        const { resultUrl, notice, jobId } = draft.result;
        await this.showResult(resultUrl, notice, before, jobId);
      }
    } catch (error) {
      console.warn("kiosk: the visit could not be restored", error);
    }
    this.refreshControls();
  }

  mapFor(reference) {
    if (!reference || reference.source === "world") return Promise.resolve(this.worldMap);
    return this.loadMap(reference);
  }
}

function generateHint(hasPaint, hasWish) {
  if (!hasPaint && !hasWish) return gettext("Paint a place on the map and write your wish.");
  if (!hasPaint) return gettext("Now paint the place on the map.");
  if (!hasWish) return gettext("Now write your wish.");
  return "";
}

function galleryError(body) {
  if (body.detail) return body.detail;
  const errors = Object.values(body.errors || {}).flat();
  return errors[0]?.message || gettext("Something went wrong. Please try again.");
}

function mapReference(map) {
  if (!map || map.source === "world") return { source: "world" };
  return { source: "job", jobId: map.jobId, resultUrl: map.resultUrl };
}

function storeDraft(draft) {
  try {
    window.sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
    return true;
  } catch (error) {
    return false; // too large for the storage (a huge drawing): keep the rest
  }
}

function takeDraft() {
  try {
    const text = window.sessionStorage.getItem(DRAFT_KEY);
    window.sessionStorage.removeItem(DRAFT_KEY);
    return text ? JSON.parse(text) : null;
  } catch (error) {
    return null;
  }
}

async function pictureFrom(dataUrl) {
  const picture = new Image();
  picture.src = dataUrl;
  await picture.decode();
  return picture;
}

new PaintPage().start();
