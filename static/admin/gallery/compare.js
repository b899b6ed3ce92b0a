// Moves the split between the before and after pictures on a creation's page with the slider.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".olpe-compare").forEach((figure) => {
    const slider = figure.querySelector(".olpe-compare-slider");
    slider.addEventListener("input", () => figure.style.setProperty("--split", `${slider.value}%`));
  });
});
