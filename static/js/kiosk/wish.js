// The wish form: the wish's words, the ideas to pick from, style, fidelity and
// engine, and sending the wish with the painted mask and a reference to its map.

import { byId, csrfToken } from "./http.js";

const { gettext } = window;
// Where the API's refusal of a wish is shown: its own field, or the general problem box.
const FIELD_ORDER = [
  "prompt", "mask", "image", "world", "base_job", "style", "engine", "guidance",
];

export class WishForm {
  /**
   * @param {{config: object, onInput: Function, onSubmit: Function}} options
   *   onInput() when the wish's words change; onSubmit() when the visitor sends it.
   */
  constructor({ config, onInput, onSubmit }) {
    this.config = config;
    this.form = byId("wish-form");
    this.wish = byId("wish");
    this.error = byId("wish-error");
    this.onInput = onInput;
    this.onSubmit = onSubmit;
  }

  bind() {
    this.wish.addEventListener("input", () => {
      this.error.hidden = true;
      this.onInput();
    });
    for (const idea of document.querySelectorAll("[data-suggestion]")) {
      idea.addEventListener("click", () => {
        this.wish.value = idea.dataset.suggestion;
        this.wish.focus();
        this.onInput();
      });
    }
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.onSubmit();
    });
  }

  hasWish() {
    return this.wish.value.trim() !== "";
  }

  setEnabled(painting) {
    for (const control of this.form.querySelectorAll("input, select")) control.disabled = !painting;
    for (const idea of this.form.querySelectorAll("[data-suggestion]")) idea.disabled = !painting;
  }

  /** The refusal of the wish's words, shown under them. */
  showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.wish.focus();
  }

  /**
   * The wish as form fields. The map travels by reference, never as pixels: the
   * World's map is named by its World, a result by its job (`base_job`, whose World
   * the new job keeps); only a map of unknown origin is uploaded.
   */
  fields(map, mask, box = null) {
    const fields = new FormData();
    if (map.source === "job" && map.jobId) {
      fields.append("base_job", map.jobId);
    } else if (map.source === "world") {
      fields.append("world", String(this.config.world.id));
    } else {
      fields.append("image", map.blob, "map.png");
      fields.append("world", String(this.config.world.id));
    }
    fields.append("mask", mask, "mask.png");
    if (box) fields.append("mask_box", box.join(","));
    fields.append("prompt", this.wish.value.trim());
    fields.append("style", byId("style").value);
    const fidelity = this.form.querySelector("input[name=fidelity]:checked")?.value;
    if (fidelity in this.config.fidelity) {
      fields.append("guidance", String(this.config.fidelity[fidelity]));
    }
    const engine = this.form.querySelector("input[name=engine]:checked");
    if (engine) fields.append("engine", engine.value);
    return fields;
  }

  /**
   * Send the wish with its mask ({blob, box}: `box` the mask's place on the map, or
   * null for a mask of the whole map). Resolves to {job} when the server took it,
   * {wishError} when it refused the words, or {problem} for every other refusal;
   * rejects when the server cannot be reached.
   */
  async send(map, mask) {
    const response = await fetch(this.config.urls.jobs, {
      method: "POST",
      body: this.fields(map, mask.blob, mask.box),
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    });
    if (response.status === 202) return { job: await response.json() };
    return refusal(response);
  }

  /** What a draft keeps of the form. */
  values() {
    return {
      wish: this.wish.value,
      style: byId("style").value,
      fidelity: this.form.querySelector("input[name=fidelity]:checked")?.value,
      engine: this.form.querySelector("input[name=engine]:checked")?.value,
    };
  }

  restore(draft) {
    this.wish.value = draft.wish || "";
    if (draft.style) byId("style").value = draft.style;
    for (const name of ["fidelity", "engine"]) {
      const selector = `input[name=${name}][value="${CSS.escape(draft[name] || "")}"]`;
      const input = draft[name] && this.form.querySelector(selector);
      if (input) input.checked = true;
    }
  }

  reset() {
    this.form.reset();
  }
}

// A map with a longer side than this gets the painted region only, at the map's own
// resolution, with its place (`mask_box`): a map-sized mask of a large World would cost
// the kiosk and the server seconds, and a scaled one would lose the brush's detail.
const WHOLE_MASK_MAX_SIDE = 2048;

/** The mask to send for `map`: the whole layer of a small map, the painted region of a big one. */
export async function maskFor(painter, map) {
  if (Math.max(map.width || 0, map.height || 0) <= WHOLE_MASK_MAX_SIDE) {
    return { blob: await painter.maskBlob(), box: null };
  }
  return painter.maskRegion();
}

/** Why the server refused the wish, next to the wish when it is about the words. */
async function refusal(response) {
  let body = {};
  try {
    body = await response.json();
  } catch (error) {
    // not JSON: a proxy's error page; the status alone decides below
  }
  if (response.status === 400) {
    const field = FIELD_ORDER.find((name) => body[name]) || Object.keys(body)[0];
    // {"field": [{"code", "message"}]}: the first error of the first field at fault.
    const error = [].concat(body[field] || [])[0];
    const message = error?.message || gettext("This wish cannot be painted.");
    return field === "prompt" ? { wishError: message } : { problem: message };
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
  return {
    problem: messages[response.status] || body.detail?.[0]?.message
      || gettext("Something went wrong. Please try again."),
  };
}

/** What the visitor still has to do before the wish can be sent. */
export function generateHint(hasPaint, hasWish) {
  if (!hasPaint && !hasWish) return gettext("Paint a place on the map and write your wish.");
  if (!hasPaint) return gettext("Now paint the place on the map.");
  if (!hasWish) return gettext("Now write your wish.");
  return "";
}
