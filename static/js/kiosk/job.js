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

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
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
    this.socketPath = job.websocket_url;
    this.detailUrl = job.url;
    this.onMessage = onMessage;
    this.onConnection = onConnection;
    this.onGone = onGone;
    this.lastEventId = 0;
    this.snapshotId = 0;
    this.failures = 0;
    this.finished = false;
    this.socket = null;
    this.reconnectTimer = null;
    this.pollTimer = null;
    this.connected = true;
  }

  start() {
    this.connect();
    return this;
  }

  /** Stop listening (the page resets or the visitor walks away); the job goes on. */
  stop() {
    this.finished = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pollTimer);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000);
      this.socket = null;
    }
  }

  // --- websocket -------------------------------------------------------------

  connect() {
    if (this.finished) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const address = `${scheme}//${window.location.host}${this.socketPath}?after=${this.lastEventId}`;
    this.snapshotId = 0;
    let socket;
    try {
      socket = new WebSocket(address);
    } catch (error) {
      this.connectionLost();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
      this.setConnected(true);
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      this.socket = null;
      if (this.finished) return;
      if (event.code === NOT_FOUND) {
        this.finished = true;
        this.onGone();
        return;
      }
      this.connectionLost();
    };
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (error) {
      return;
    }
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

  connectionLost() {
    this.failures += 1;
    this.setConnected(false);
    const delay = BACKOFF_MS[Math.min(this.failures - 1, BACKOFF_MS.length - 1)];
    const jitter = Math.random() * 0.25 * delay;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay + jitter);
    if (this.failures >= POLL_AFTER_FAILURES && this.pollTimer === null) this.schedulePoll(0);
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
    if (this.finished || this.socket?.readyState === WebSocket.OPEN) {
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
      return { type: "succeeded", result_url: state.result_url, notice: state.notice };
    case "failed":
      return { type: "failed", reason: state.error };
    case "cancelled":
      return { type: "cancelled" };
    default:
      return null;
  }
}
