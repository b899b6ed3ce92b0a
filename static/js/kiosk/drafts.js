// Switching the language reloads the page; the visit survives it as a draft in
// this tab's sessionStorage, taken (and removed) by the reloaded page.
//
// A draft is {world, wish, style, fidelity, engine, map, job, result, paint}:
// the wish form's values, the map painted on as a reference (the World's
// picture or a result's address, fetched again), the job being watched, the
// result being looked at, and the painted mask as a PNG data URL.

const DRAFT_KEY = "olpe-kiosk-draft";

/** Keep `draft`; without the painting when the whole is too large for the storage. */
export function saveDraft(draft) {
  return storeDraft(draft) || storeDraft({ ...draft, paint: null });
}

/** The draft of the World `worldSlug`, if this tab left one; it is kept only once. */
export function takeDraft(worldSlug) {
  let draft = null;
  try {
    const text = window.sessionStorage.getItem(DRAFT_KEY);
    window.sessionStorage.removeItem(DRAFT_KEY);
    draft = text ? JSON.parse(text) : null;
  } catch (error) {
    return null;
  }
  return draft && draft.world === worldSlug ? draft : null;
}

/** A map as a draft keeps it: where to fetch it again (a window of a huge map: with its
 * place and the map it lies on). */
export function mapReference(map) {
  if (!map || map.source === "world") return { source: "world" };
  const reference = { source: "job", jobId: map.jobId, resultUrl: map.resultUrl };
  if (map.box) {
    Object.assign(reference, { box: map.box, beforeUrl: map.beforeUrl, base: mapReference(map.base) });
  }
  return reference;
}

/** The painting a draft kept, as a picture to paint back. */
export async function pictureFrom(dataUrl) {
  const picture = new Image();
  picture.src = dataUrl;
  await picture.decode();
  return picture;
}

function storeDraft(draft) {
  try {
    window.sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
    return true;
  } catch (error) {
    return false; // too large for the storage (a huge drawing): keep the rest
  }
}
