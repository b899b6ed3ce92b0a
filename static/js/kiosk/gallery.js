// Handing a result to the gallery: the title, name and consent form, and the
// QR code of the creation's page once the gallery has it.

import { byId, csrfToken } from "./http.js";

const { gettext } = window;

export class GalleryForm {
  /** @param {{galleryUrl: string, onBack: Function, onDone: Function}} options */
  constructor({ galleryUrl, onBack, onDone }) {
    this.galleryUrl = galleryUrl;
    this.onBack = onBack;
    this.onDone = onDone;
    this.form = byId("gallery-form");
  }

  bind(jobId) {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send(jobId());
    });
    byId("gallery-back").addEventListener("click", () => this.onBack());
  }

  async send(jobId) {
    const error = byId("gallery-error");
    error.hidden = true;
    const button = byId("gallery-submit");
    button.disabled = true;
    try {
      const address = this.galleryUrl.replace(/[0-9a-f-]{36}/, jobId);
      const response = await fetch(address, {
        method: "POST",
        body: new FormData(this.form),
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
    this.onDone();
  }

  wipe() {
    byId("qr-code").replaceChildren();
    this.form.reset();
  }
}

function galleryError(body) {
  // {"field": [{"code", "message"}]}: the first message of the first field at fault.
  const errors = Object.values(body || {}).flat();
  return errors[0]?.message || gettext("Something went wrong. Please try again.");
}
