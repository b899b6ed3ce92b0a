"""The classic engine: offline, on the CPU, without model weights.

It repaints a region the way a map maker would: it looks for places on the same
map that already show the wished-for land cover (the lake, a forest, a field),
quilts their texture into the region, and blends the result into its
surroundings. Land covers the map does not show (snow, lava on a map of the
Sauerland) are painted procedurally from a palette and layered noise. The
procedural painters also paint the synthetic demo map (`tooling.demo`), so
the project has a plausible aerial picture without shipping real imagery.

How a wish is read and painted:

* Land covers come from the prepared prompt (`request.land_covers`, main
  first, at most three used). Further covers appear as soft blobs inside the
  main one ("a lake with forest" gets wooded islands). A wish that names no
  land cover heals the region with the cover that surrounds it.
* The map around the region is read for its land cover (`reading.survey_map`):
  with the map's scale known or estimated, by the reader learnt from labelled
  points of real maps (`cover_model`: features in metres, standardised per
  map; its accuracy per class in docs/performance.md), else by colour rules.
* Painted covers are colour-matched to the map in Lab (the cover's own colours
  where the map shows a little of it, else the map's light).
* Texture comes from windows of the map (`request.context`, near
  `request.crop_box`) that show the cover almost alone, outside the painted
  region, scaled like the crop. They are quilted (Efros & Freeman: best
  matching patches joined along minimal-error seams). Fields are painted as
  rows in the colours of a field on the map, because quilting mixes the row
  directions of neighbouring parcels; roads are always painted.
* What is wished for is one of the museum's 25 expected subjects
  (`subjects.SUBJECTS`): a land cover quilted from the map or painted, water
  with its shore (`water`), fields in parcels (`farmland`), a built place
  laid out over the whole painted area in the map's own materials and sun
  (`structures`, `sites`, `sun`: castle, church, monastery, stadium, market
  square, school, factory, station, harbour, bridge, railway, park,
  vineyard, wind farm) or a season (snow). A wish the engine cannot paint is
  healed from the map around it (`healing`) and said in the result's notes.
* Sizes follow the map's scale (`scale`): the World's metres per pixel, or an
  estimate from its roofs, stated in the notes with how sure it is (within a
  factor measured on the shared town maps). Painters paint at the demo
  map's scale and are resized; structures are drawn in metres.
* Natural covers take a rounded, slightly irregular outline inside the stroke
  with a bank or an edge (`shapes.natural_outline`); built things are turned
  like the streets around them (`shapes.street_angle`).
* Drawn and historic maps (`style`) are painted in their own paper and ink.
* The seed is `request.seed`, or else derived from the prompt, so the same
  wish on the same region gives the same picture.
* Style, steps, guidance and strength are diffusion parameters and are ignored.

Everything is vectorised numpy/OpenCV (loops run over patches, never pixels)
and deterministic for a seed.
"""

from inpainting_core.engines.classic.engine import ClassicEngine

__all__ = ["ClassicEngine"]
