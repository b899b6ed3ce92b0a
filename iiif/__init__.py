"""IIIF: the museum's Worlds and creations where museum software expects them.

The Image API 3.0 (deep zoom, any region and size) for every visible World's
map and every approved creation's pictures, and the Presentation API 3.0
(manifests, the gallery as a collection) that viewers such as Mirador, the
Universal Viewer and OpenSeadragon, and portals read. See docs/architecture.md.
"""
