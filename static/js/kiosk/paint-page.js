// The paint screen: paint a place, make a wish, watch it being painted, compare,
// keep painting or hand the result to the gallery.
//
// This module wires the page's parts together:
//   drawing.js     the canvas, the tools, undo and redo, and the maps painted on
//   wish.js        the wish form and sending the wish
//   job-status.js  watching the job (job.js over shared/socket.js) until it ends
//   gallery.js     handing the result to the gallery
//   drafts.js      keeping the visit while the page reloads in another language
//   ../shared/compare.js  the before/after slider of the result
//
// The screen moves through these states (the `data-state` of #paint-screen,
// which the CSS uses to show the matching panel):
//   painting -> submitting -> running -> result -> gallery -> done
// and back to painting after a failure, a cancel, or "keep painting".

import { Compare } from "../shared/compare.js";
import { mapReference, pictureFrom, saveDraft, takeDraft } from "./drafts.js";
import { Drawing } from "./drawing.js";
import { GalleryForm } from "./gallery.js";
import { byId } from "./http.js";
import { kioskConfig, onReset } from "./idle.js";
import { JobStatus } from "./job-status.js";
import { ResultFrame } from "./result-frame.js";
import { generateHint, maskFor, WishForm } from "./wish.js";

const { gettext } = window;
const config = kioskConfig();

const STATES = {
  painting: ["wish-form"],
  submitting: ["wish-form", "job-status"],
  running: ["wish-form", "job-status"],
  result: ["result-panel"],
  gallery: ["gallery-form"],
  done: ["gallery-done"],
};
const PANELS = ["wish-form", "job-status", "result-panel", "gallery-form", "gallery-done"];

class PaintPage {
  constructor() {
    this.screen = byId("paint-screen");
    this.state = "painting";
    this.worldMap = null;
    this.result = null; // {jobId, map, before, notice}
    this.retryAction = null;
    this.drawing = new Drawing({
      world: config.world,
      jobRegionsUrl: config.urls.jobRegions,
      isPainting: () => this.state === "painting",
      onChange: () => this.refreshControls(),
      onHint: (text) => this.announce(text),
    });
    this.painter = this.drawing.painter;
    this.wish = new WishForm({
      config,
      onInput: () => this.refreshControls(),
      onSubmit: () => this.generate(),
    });
    this.jobs = new JobStatus({
      onSucceeded: (job, resultUrl, notice, frame, region) => this.showResult(
        resultUrl, notice, job.map, job.id, frame, region),
      onFailed: (reason) => this.showProblem(
        reason || gettext("The picture could not be painted."), () => this.generate()),
      onCancelled: () => {
        this.setState("painting");
        this.announce(gettext("Cancelled. Your drawing is still there."));
      },
      onGone: () => this.showProblem(
        gettext("Your wish got lost on the way. Please try again."), () => this.generate()),
    });
    this.gallery = new GalleryForm({
      galleryUrl: config.urls.gallery,
      onBack: () => this.setState("result"),
      onDone: () => {
        this.setState("done");
        byId("gallery-done-title").focus();
      },
    });
    this.compare = new Compare({
      root: byId("compare"),
      before: byId("compare-before"),
      after: byId("compare-after"),
      range: byId("compare-range"),
      control: byId("compare-control"),
    });
    this.resultFrame = new ResultFrame();
  }

  async start() {
    this.drawing.bind();
    this.wish.bind();
    this.jobs.bind();
    this.bindResult();
    this.gallery.bind(() => this.result.jobId);
    byId("language-form").addEventListener("submit", () => this.saveDraft());
    onReset(() => this.wipe());
    this.setState("painting");
    try {
      this.worldMap = await this.drawing.loadMap({ source: "world" });
    } catch (error) {
      this.showProblem(gettext("The map could not be loaded. Please choose it again."), () =>
        window.location.reload());
      return;
    }
    this.painter.setBaseMap(this.worldMap);
    await this.restoreDraft();
  }

  refreshControls() {
    const painting = this.state === "painting";
    this.drawing.refreshButtons(painting);
    const hasPaint = this.drawing.hasPaint();
    const hasWish = this.wish.hasWish();
    byId("generate").disabled = !painting || !hasPaint || !hasWish;
    byId("generate-hint").textContent = painting ? generateHint(hasPaint, hasWish) : "";
  }

  // --- the wish -----------------------------------------------------------------

  canGenerate() {
    return this.state === "painting" && this.drawing.hasPaint() && this.wish.hasWish();
  }

  async generate() {
    if (!this.canGenerate()) return;
    this.hideProblem();
    this.setState("submitting");
    this.jobs.sending();
    const map = this.painter.currentMap();
    let answer;
    try {
      answer = await this.wish.send(map, await maskFor(this.painter, map));
    } catch (error) {
      this.showProblem(
        gettext("The kiosk cannot reach the server right now."), () => this.generate());
      return;
    }
    if (answer.job) {
      this.follow(answer.job, map);
    } else if (answer.wishError) {
      this.setState("painting");
      this.wish.showError(answer.wishError);
    } else {
      this.showProblem(answer.problem, () => this.generate());
    }
  }

  follow(job, map) {
    this.setState("running");
    this.jobs.follow(job, map);
  }

  // --- the result ------------------------------------------------------------------

  bindResult() {
    byId("keep-painting").addEventListener("click", () => this.keepPainting());
    byId("to-gallery").addEventListener("click", () => {
      this.setState("gallery");
      byId("gallery-title").focus();
    });
  }

  /** The result of a wish; `frame` is where the map changed; `region` ({box, beforeUrl})
   * for a wish on a huge map, whose result is the window it repainted: the comparison
   * shows that window. */
  async showResult(resultUrl, notice, before, jobId, frame = null, region = null) {
    this.jobs.setMessage(gettext("Almost done …"));
    let map;
    try {
      map = await this.drawing.loadMap({
        source: "job", jobId, resultUrl, box: region?.box, beforeUrl: region?.beforeUrl,
        base: before,
      });
    } catch (error) {
      this.showProblem(gettext("Your picture is finished but could not be loaded."),
        () => this.showResult(resultUrl, notice, before, jobId, frame, region));
      return;
    }
    this.result = { jobId, map, before, notice: notice || "", frame, region };
    const noticeLine = byId("result-notice");
    noticeLine.textContent = notice || "";
    noticeLine.hidden = !notice;
    if (map.box) {
      this.compare.show(map.beforeUrl, map.windowUrl);
      this.resultFrame.show(null);  // the window is already the change's place
    } else {
      this.compare.show(before.url, map.url);
      this.resultFrame.show(frame);
    }
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
    this.drawing.setEnabled(painting, ["painting", "submitting", "running"].includes(state));
    this.wish.setEnabled(painting);
    if (!["result", "gallery", "done"].includes(state)) {
      this.compare.hide();
      this.resultFrame.reset();
    }
    this.refreshControls();
  }

  // --- one visit only ------------------------------------------------------------------

  wipe() {
    this.jobs.wipe();
    this.result = null;
    this.compare.hide();
    this.drawing.wipe();
    this.wish.reset();
    this.gallery.wipe();
  }

  // --- switching the language keeps the visit -------------------------------------------

  /** Remember the visit in this tab while the page reloads in the other language. */
  saveDraft() {
    saveDraft({
      world: config.world.slug,
      ...this.wish.values(),
      map: mapReference(this.painter.currentMap()),
      job: this.jobs.reference(),
      result: this.result && {
        jobId: this.result.jobId, resultUrl: this.result.map.resultUrl,
        before: mapReference(this.result.before), notice: this.result.notice,
        frame: this.result.frame,
        region: this.result.region,
      },
      paint: this.drawing.hasPaint() ? this.painter.maskDataUrl() : null,
    });
  }

  async restoreDraft() {
    const draft = takeDraft(config.world.slug);
    if (!draft) return;
    this.wish.restore(draft);
    try {
      const map = await this.mapFor(draft.map);
      if (map !== this.worldMap) this.painter.adoptMap(map);
      if (draft.paint) this.painter.restorePaint(await pictureFrom(draft.paint));
      if (draft.job) this.follow(draft.job, map);
      else if (draft.result) {
        const before = await this.mapFor(draft.result.before);
        const { resultUrl, notice, jobId, frame, region } = draft.result;
        await this.showResult(resultUrl, notice, before, jobId, frame, region);
      }
    } catch (error) {
      console.warn("kiosk: the visit could not be restored", error);
    }
    this.refreshControls();
  }

  mapFor(reference) {
    if (!reference || reference.source === "world") return Promise.resolve(this.worldMap);
    return this.drawing.loadMap(reference);
  }
}

new PaintPage().start();
