// Watching a wish being painted: the job panel (message, progress, preview,
// connection note, cancel) fed by a JobWatcher (job.js, over shared/socket.js).
// While a job runs the kiosk's idle timer is held.

import { idle } from "./idle.js";
import { byId, csrfToken } from "./http.js";
import { JobWatcher } from "./job.js";

const { gettext, ngettext, interpolate } = window;

export class JobStatus {
  /**
   * @param {object} handlers how a job ends: onSucceeded(job, resultUrl, notice, frame, region),
   *   onFailed(reason), onCancelled(), onGone(); `job` is {id, url, websocket_url, map};
   *   `frame` is where the map changed; `region` is {box, beforeUrl} for a result on a huge
   *   map (only its window), else null.
   */
  constructor({ onSucceeded, onFailed, onCancelled, onGone }) {
    this.handlers = { onSucceeded, onFailed, onCancelled, onGone };
    this.job = null; // {id, url, websocket_url, map}
    this.watcher = null;
    this.releaseIdle = null;
    this.messageKind = "other";
  }

  bind() {
    byId("cancel-job").addEventListener("click", () => this.cancel());
  }

  /** The wish is on its way; there is nothing to cancel before the server has it. */
  sending() {
    byId("cancel-job").disabled = true;
    this.setMessage(gettext("Sending your wish …"));
  }

  follow(job, map) {
    this.job = { id: job.id, url: job.url, websocket_url: job.websocket_url, map };
    this.releaseIdle?.();
    this.releaseIdle = idle.hold();
    byId("cancel-job").disabled = false;
    byId("job-preview-figure").hidden = true;
    this.setProgress(0, 0);
    if (job.position !== undefined) this.receive({ type: "queued", position: job.position });
    else this.setMessage(gettext("Your wish is being painted."));
    const jobId = job.id;
    this.watcher = new JobWatcher(job, {
      onMessage: (message) => this.job?.id === jobId && this.receive(message),
      onConnection: (connected) => this.showConnection(connected),
      onGone: () => this.ended(() => this.handlers.onGone()),
    }).start();
  }

  receive(message) {
    switch (message.type) {
      case "queued":
        this.showQueued(Number(message.position) || 0, Boolean(message.retry));
        break;
      case "started":
        this.setMessage(gettext("The AI is painting your wish …"), "painting");
        if (message.total) this.setProgress(message.step, message.total);
        break;
      case "progress":
        if (this.messageKind !== "painting") {
          this.setMessage(gettext("The AI is painting your wish …"), "painting");
        }
        this.setProgress(message.step, message.total);
        break;
      case "preview":
        this.showPreview(message.data_url);
        break;
      case "succeeded": {
        const box = message.result_box ?? message.job?.result_box;
        const region = box ? { box, beforeUrl: message.before_url ?? message.job?.before_url } : null;
        this.ended((job) => this.handlers.onSucceeded(
          job, message.result_url, message.notice ?? message.job?.notice,
          message.frame ?? message.job?.frame, region));
        break;
      }
      case "failed":
        this.ended(() => this.handlers.onFailed(message.reason));
        break;
      case "cancelled":
        this.ended(() => this.handlers.onCancelled());
        break;
      default:
        break;
    }
  }

  ended(then) {
    const job = this.job;
    this.stop();
    byId("job-connection").hidden = true;
    then(job);
  }

  /** Stop watching (the job ended, or the visit did) and let the idle timer run again. */
  stop() {
    this.watcher?.stop();
    this.watcher = null;
    this.job = null;
    this.releaseIdle?.();
    this.releaseIdle = null;
  }

  /** What a draft keeps of the job being watched. */
  reference() {
    return this.job && { id: this.job.id, url: this.job.url, websocket_url: this.job.websocket_url };
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
    this.setMessage(text, "queued");
    this.setProgress(0, 0);
  }

  setMessage(text, kind = "other") {
    this.messageKind = kind;
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
    this.setMessage(gettext("Cancelling …"));
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
        this.receive({ type: "cancelled" });
      }
    } catch (error) {
      if (this.job?.id === jobId) button.disabled = false;
    }
  }

  /** The visit ends: the page is about to go, so the idle timer stays as it is. */
  wipe() {
    this.watcher?.stop();
    this.watcher = null;
    this.job = null;
    byId("job-preview").removeAttribute("src");
  }
}
