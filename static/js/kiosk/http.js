// What the kiosk's page parts share for talking to the server.

// A picture that cannot be fetched is asked for again after 1, 2 and 3 seconds
// when the reason may pass (rate limit, a restarting server).
const FETCH_ATTEMPTS = 4;
const PASSING_STATUSES = new Set([429, 500, 502, 503, 504]);

export const byId = (id) => document.getElementById(id);

export function csrfToken() {
  return document.querySelector("#kiosk-reset [name=csrfmiddlewaretoken]").value;
}

function wait(milliseconds) {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

export async function fetchPicture(address) {
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(address, { credentials: "same-origin" });
    if (response.ok) return response.blob();
    if (attempt >= FETCH_ATTEMPTS || !PASSING_STATUSES.has(response.status)) {
      throw new Error(`${address} answered ${response.status}`);
    }
    await wait(1000 * attempt);
  }
}
