// A websocket that comes back: the one module every page opens its sockets with.
//
// Used by the kiosk's job watching (kiosk/job.js) and the gallery wall
// (wall.js). After a close the socket reconnects with capped exponential
// backoff and jitter (so that kiosks and walls do not all return at once after
// a server restart). Options:
//   after()       a number sent as `?after=<n>` on every connection (a job
//                 socket's last event id seen: the server replays what came later)
//   sync          {everyMs, message(), deadAfterMs}: every `everyMs` while open,
//                 send `message()`; a socket silent for `deadAfterMs` is dead
//                 without knowing it and is replaced (the wall's periodic sync)
//   onOpen()      connected (again)
//   onMessage(m)  every message, parsed as JSON (text that is not JSON is dropped)
//   onDown(n)     the connection is lost or could not be made, the n-th time in a row
//   onClose(ev)   return false to stay closed (the server said the thing is gone)

export class ReconnectingSocket {
  constructor(path, {
    minDelayMs = 1000, maxDelayMs = 60000, jitter = 0.5, after = null, sync = null,
    onOpen = () => {}, onMessage = () => {}, onDown = () => {}, onClose = () => true,
  } = {}) {
    this.path = path;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.jitter = jitter;
    this.after = after;
    this.sync = sync;
    this.handlers = { onOpen, onMessage, onDown, onClose };
    this.socket = null;
    this.failures = 0;
    this.reconnectTimer = 0;
    this.syncTimer = 0;
    this.lastMessageAt = 0;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
    if (this.sync) this.syncTimer = setInterval(() => this.syncNow(), this.sync.everyMs);
    return this;
  }

  /** Close for good: no reconnecting, no syncing. */
  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.syncTimer);
    this.reconnectTimer = 0;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      try {
        socket.close(1000);
      } catch (error) { /* already closed */ }
    }
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** The address of the next connection. */
  address() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const query = this.after ? `?after=${Number(this.after()) || 0}` : "";
    return `${scheme}//${window.location.host}${this.path}${query}`;
  }

  /** Milliseconds before the next try, after `failures` failures in a row. */
  delay(failures) {
    const base = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.max(0, failures - 1));
    return base * (1 - this.jitter / 2 + Math.random() * this.jitter);
  }

  connect() {
    this.reconnectTimer = 0;
    if (this.stopped) return;
    let socket;
    try {
      socket = new WebSocket(this.address());
    } catch (error) {
      this.lost();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      this.lastMessageAt = Date.now();
      this.handlers.onOpen();
    };
    socket.onmessage = (event) => {
      this.lastMessageAt = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      this.handlers.onMessage(message);
    };
    socket.onclose = (event) => {
      socket.onopen = socket.onmessage = socket.onclose = null;
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      if (this.handlers.onClose(event) === false) {
        this.stop();
        return;
      }
      this.lost();
    };
  }

  /** Give up on `this.socket` (silent too long) and connect anew. */
  abandon() {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    try {
      socket.close();
    } catch (error) { /* already closed */ }
    this.socket = null;
    this.lost();
  }

  lost() {
    if (this.stopped) return;
    this.failures += 1;
    this.handlers.onDown(this.failures);
    if (this.reconnectTimer || this.stopped) return;
    this.reconnectTimer = setTimeout(() => this.connect(), this.delay(this.failures));
  }

  syncNow() {
    if (!this.isOpen) return;
    if (Date.now() - this.lastMessageAt > this.sync.deadAfterMs) {
      this.abandon(); // no answer to the last syncs: the connection is dead without knowing it
      return;
    }
    this.send(this.sync.message());
  }
}
