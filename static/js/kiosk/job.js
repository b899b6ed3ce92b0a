// Follows one job until it ends: the job's websocket first, polling as the fallback.
//
// The server's first message on every connection is a snapshot of the job's
// state, so a socket that drops and comes back knows at once where the job
// stands. `?after=<last event id seen>` (0 on the first connection) replays
// what happened before: of that history only a missed preview is still news,
// the snapshot already tells the rest. While the socket is down, the job is
// read over HTTP every few seconds, so the visitor sees the result even if
// websockets never come back (a proxy that does not pass them, a restarting
// server).

import { ReconnectingSocket } from "../shared/socket.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
// Reconnecting waits 0.5 s, then doubling up to 15 s (with jitter): see shared/socket.js.
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 15000;
const POLL_MS = 3000;
// Polling starts after this many failed connections in a row.
const POLL_AFTER_FAILURES = 2;
const NOT_FOUND = 4404;

export class JobWatcher {
  /**
   * @param {object} job the API's job state: `websocket_url` and `url` are used
   * @param {{onMessage: Function, onConnection?: Function, onGone?: Function}} handlers
   *   onMessage(message) for every state change, in the websocket's vocabulary
   *   (queued, started, progress, preview, succeeded, failed, cancelled);
   *   onConnection(connected) when the live connection is lost or back;
   *   onGone() when the server no longer knows the job.
   */
  constructor(job, { onMessage, onConnection = () => {}, onGone = () => {} }) {
    this.detailUrl = job.url;
    this.onMessage = onMessage;
    this.onConnection = onConnection;
    this.onGone = onGone;
    this.lastEventId = 0;
    this.snapshotId = 0;
    this.finished = false;
    this.pollTimer = null;
    this.connected = true;
    this.socket = new ReconnectingSocket(job.websocket_url, {
      minDelayMs: FIRST_RETRY_MS,
      maxDelayMs: LAST_RETRY_MS,
      after: () => this.lastEventId,
      onOpen: () => {
        this.snapshotId = 0;
        clearTimeout(this.pollTimer);
        this.pollTimer = null;
        this.setConnected(true);
      },
      onMessage: (message) => this.receive(message),
      onClose: (event) => {
        if (event.code !== NOT_FOUND) return true;
        this.finished = true;
        this.onGone();
        return false;
      },
      onDown: (failures) => {
        this.setConnected(false);
        if (failures >= POLL_AFTER_FAILURES && this.pollTimer === null) this.schedulePoll(0);
      },
    });
  }

  start() {
    this.socket.start();
    return this;
  }

  /** Stop listening (the page resets or the visitor walks away); the job goes on. */
  stop() {
    this.finished = true;
    clearTimeout(this.pollTimer);
    this.socket.stop();
  }

  // --- websocket -------------------------------------------------------------

  receive(message) {
    if (this.finished || typeof message !== "object" || message === null) return;
    const eventId = Number(message.event_id) || 0;
    if (message.snapshot) {
      this.snapshotId = eventId;
    } else if (eventId) {
      if (eventId <= this.lastEventId) return; // seen on an earlier connection
      this.lastEventId = eventId;
      if (eventId <= this.snapshotId && message.type !== "preview") return; // history
    }
    this.deliver(message);
  }

  deliver(message) {
    if (this.finished) return;
    if (TERMINAL.has(message.type)) this.stop();
    this.onMessage(message);
  }

  setConnected(connected) {
    if (connected !== this.connected) {
      this.connected = connected;
      this.onConnection(connected);
    }
  }

  // --- polling ---------------------------------------------------------------

  schedulePoll(delay) {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this.poll(), delay);
  }

  async poll() {
    if (this.finished || this.socket.isOpen) {
      this.pollTimer = null;
      return;
    }
    let delay = POLL_MS;
    try {
      const response = await fetch(this.detailUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 404) {
        this.stop();
        this.onGone();
        return;
      }
      if (response.status === 429) {
        delay = Math.max(delay, (Number(response.headers.get("Retry-After")) || 5) * 1000);
      } else if (response.ok) {
        const message = messageFromState(await response.json());
        if (message) this.deliver(message);
      }
    } catch (error) {
      // The server is unreachable too: keep trying, the socket may come back first.
    }
    if (!this.finished) this.schedulePoll(delay);
  }
}

/** The API's job state in the websocket's vocabulary. */
export function messageFromState(state) {
  switch (state.status) {
    case "queued":
      return { type: "queued", position: state.position };
    case "running":
      return { type: "progress", step: state.progress.step, total: state.progress.total };
    case "succeeded":
      return {
        type: "succeeded", result_url: state.result_url, notice: state.notice, frame: state.frame,
        result_box: state.result_box, before_url: state.before_url,
      };
    case "failed":
      return { type: "failed", reason: state.error };
    case "cancelled":
      return { type: "cancelled" };
    default:
      return null;
  }
}
