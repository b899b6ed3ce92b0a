"""What the classic engine knows how to paint: the wishes a museum should expect.

SUBJECTS lists the 25 wishes visitors of a town museum make most often (the
kiosk's shipped suggestions first: a lake, a dense forest, a castle on the
hill), each with its strategy:

* ``exemplar``: the land cover is quilted from the map's own pixels where the
  map shows it, otherwise painted procedurally in the map's light;
* ``structure``: a built thing with its own geometry (a stadium, a church),
  sized in metres and turned like the streets around the region;
* ``overlay``: the region keeps its structure and changes its season (snow).

`shape` says how the painted region is outlined: ``natural`` covers get a
smoothed, slightly irregular outline inside the brush stroke with a shore or
forest edge; ``built`` and ``fill`` ones keep the stroke.

A wish is matched through the glossary's English keywords of its subject
(`subject_for`). A wish with no subject and no land cover the engine knows
("a dinosaur") is not painted as something else: the engine heals the region
and says so in its notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from inpainting_core import glossary, landcover, vocabulary

EXEMPLAR, STRUCTURE, OVERLAY = "exemplar", "structure", "overlay"
NATURAL, BUILT, FILL = "natural", "built", "fill"


@dataclass(frozen=True)
class Subject:
    name: str  # also the name of its painter for structures
    keywords: tuple[str, ...]  # glossary keywords (English) that ask for it
    cover: str  # the land cover it stands on (classification, exemplars, tint)
    strategy: str
    shape: str


SUBJECTS: tuple[Subject, ...] = (
    # the kiosk's shipped suggestions
    Subject("lake", ("lake", "pond", "reservoir", "dam reservoir", "water", "sea", "island"),
            landcover.WATER, EXEMPLAR, NATURAL),
    Subject("forest", ("forest", "wood", "woods", "tree", "trees", "jungle", "rainforest"),
            landcover.FOREST, EXEMPLAR, NATURAL),
    Subject("castle", ("castle", "palace", "fortress", "castle ruin", "ruin", "tower"),
            landcover.BUILDINGS, STRUCTURE, BUILT),
    # the wishes a museum should expect most often after those
    Subject("stadium", ("stadium", "football stadium", "football pitch", "sports field", "arena"),
            landcover.BUILDINGS, STRUCTURE, BUILT),
    Subject("church", ("church", "chapel", "cathedral"), landcover.BUILDINGS, STRUCTURE, BUILT),
    Subject("monastery", ("monastery", "abbey", "convent", "cloister"), landcover.BUILDINGS, STRUCTURE, BUILT),
    Subject("bridge", ("bridge",), landcover.ROAD, STRUCTURE, BUILT),
    Subject("harbour", ("harbour", "harbor", "port", "marina"), landcover.WATER, STRUCTURE, NATURAL),
    Subject("vineyard", ("vineyard", "vineyard terrace"), landcover.FIELD, STRUCTURE, FILL),
    Subject("park", ("park", "garden", "city park"), landcover.MEADOW, STRUCTURE, NATURAL),
    Subject("river", ("river", "stream", "brook", "canal"), landcover.WATER, EXEMPLAR, NATURAL),
    Subject("railway", ("railway", "railway line", "railway track", "rail", "track", "train"),
            landcover.ROAD, STRUCTURE, BUILT),
    Subject("snow", ("snow", "snowy", "winter", "ice", "icy", "frozen"), landcover.SNOW, OVERLAY, FILL),
    Subject("meadow", ("meadow", "grass", "lawn", "pasture", "hill"), landcover.MEADOW, EXEMPLAR, NATURAL),
    Subject("field", ("field", "farmland", "acre", "crop", "wheat field", "grain field"),
            landcover.FIELD, EXEMPLAR, FILL),
    Subject("houses", ("house", "houses", "village", "town", "city", "settlement", "housing estate",
                       "residential area", "suburb", "building"), landcover.BUILDINGS, EXEMPLAR, FILL),
    Subject("street", ("street", "road", "motorway", "highway"), landcover.ROAD, EXEMPLAR, FILL),
    Subject("beach", ("beach", "sandy beach", "desert", "dune", "sand"), landcover.SAND, EXEMPLAR, NATURAL),
    Subject("mountain", ("mountain", "rock", "rocky", "cliff", "quarry"), landcover.ROCK, EXEMPLAR, NATURAL),
    Subject("market square", ("market square", "marketplace", "market", "town square"),
            landcover.ROAD, STRUCTURE, BUILT),
    Subject("wind farm", ("wind farm", "wind turbine", "wind turbines", "wind park", "wind power"),
            landcover.MEADOW, STRUCTURE, FILL),
    Subject("volcano", ("volcano", "lava", "magma", "eruption"), landcover.LAVA, EXEMPLAR, FILL),
    Subject("school", ("school", "schoolyard"), landcover.BUILDINGS, STRUCTURE, BUILT),
    Subject("factory", ("factory", "power plant", "warehouse", "industrial estate", "works"),
            landcover.BUILDINGS, STRUCTURE, BUILT),
    Subject("railway station", ("railway station", "train station", "station"), landcover.ROAD, STRUCTURE, BUILT),
)

_BY_KEYWORD = {keyword: subject for subject in SUBJECTS for keyword in subject.keywords}
# Land covers without a subject of their own are painted as their plainest subject.
_BY_COVER = {}
for _subject in sorted(SUBJECTS, key=lambda subject: subject.strategy != EXEMPLAR):
    _BY_COVER.setdefault(_subject.cover, _subject)


def subject_for(text: str) -> tuple[Optional[Subject], Optional[str]]:
    """The subject a wish asks for, and the glossary keyword it was recognised by.

    The first keyword with a subject wins ("a castle on the hill" is a castle).
    Without one, a keyword of a known land cover gives that cover's plain
    subject ("an airport" is painted as a street); the keyword is returned so
    the engine can say so. (None, None) when the wish names nothing known.
    """
    keywords = glossary.find_english_keywords(text)
    for keyword in keywords:
        if keyword in _BY_KEYWORD:
            return _BY_KEYWORD[keyword], keyword
        singular = glossary.singular(keyword)
        if singular in _BY_KEYWORD:
            return _BY_KEYWORD[singular], keyword
    for keyword in keywords:
        cover = vocabulary.ENGLISH_KEYWORDS.get(keyword)
        if cover in _BY_COVER:
            return _BY_COVER[cover], keyword
    return None, (keywords[0] if keywords else None)


def subject_of_cover(cover: str) -> Subject:
    """The plain subject of a land cover ("water" is a lake)."""
    return _BY_COVER[cover]
