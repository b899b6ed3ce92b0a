/* Before/after comparison: a divider the visitor drags (or moves with the arrow keys).
 *
 * Markup, usable without JavaScript (the two pictures one under the other):
 *   <div class="compare" data-compare>
 *     <figure class="compare-before"><img ...><figcaption>Before</figcaption></figure>
 *     <figure class="compare-after"><img ...><figcaption>After</figcaption></figure>
 *   </div>
 * Enhanced, the after picture lies on the before picture and a native range
 * input (keyboard and screen readers for free) sets where it starts.
 */
(function () {
  "use strict";

  function t(text) {
    return window.gettext ? window.gettext(text) : text;
  }

  function format(text, values) {
    var translated = t(text);
    if (window.interpolate) return window.interpolate(translated, values, true);
    return translated.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  function enhance(container) {
    if (container.classList.contains("is-enhanced")) return;
    var range = document.createElement("input");
    range.type = "range";
    range.min = "0";
    range.max = "100";
    range.step = "1";
    range.value = "50";
    range.className = "compare-range";
    range.setAttribute("aria-label", t("Divider between before and after"));
    var handle = document.createElement("span");
    handle.className = "compare-handle";
    handle.setAttribute("aria-hidden", "true");

    function update() {
      var before = Number(range.value);
      container.style.setProperty("--split", before + "%");
      range.setAttribute(
        "aria-valuetext",
        format("%(before)s percent before, %(after)s percent after", { before: before, after: 100 - before })
      );
    }

    range.addEventListener("input", update);
    container.appendChild(handle);
    container.appendChild(range);
    container.classList.add("is-enhanced");
    update();
  }

  function enhanceAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-compare]"), enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhanceAll);
  else enhanceAll();
})();
