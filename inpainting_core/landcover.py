"""The land covers a wish can name, shared by the glossary and the classic engine.

The glossary maps German and English words to one of these; the classic engine
knows how each one looks from above (colour range, texture) and where to find
it on a map.
"""

WATER = "water"
FOREST = "forest"
MEADOW = "meadow"
FIELD = "field"
BUILDINGS = "buildings"
ROAD = "road"
SAND = "sand"
SNOW = "snow"
ROCK = "rock"
LAVA = "lava"

ALL = (WATER, FOREST, MEADOW, FIELD, BUILDINGS, ROAD, SAND, SNOW, ROCK, LAVA)
