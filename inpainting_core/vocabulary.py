"""The words of a wish: German nouns and adjectives, their English, their land cover.

The tables the offline translation (inpainting_core.glossary) and the prompt builder
read: the German nouns a visitor is likely to use for a landscape or a town with their
English and what they look like from above (the land cover the classic engine paints),
adjectives, the function words and wish phrasing that must vanish, and the English
keywords with their prompt tags. Every German word is keyed by its folded spelling
(`fold`: lowercase, ä -> ae, ö -> oe, ü -> ue, ß -> ss), so "Brücke", "Bruecke" and
"BRÜCKE" are one entry. Only data and the two helpers the tables are built with live
here; how a word is found (endings, umlauts, compounds) is glossary's job.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from inpainting_core.landcover import (
    BUILDINGS,
    FIELD,
    FOREST,
    LAVA,
    MEADOW,
    ROAD,
    ROCK,
    SAND,
    SNOW,
    WATER,
)

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "-": ""})


def fold(word: str) -> str:
    """The spelling-independent key of a German word ("Brücke" and "Bruecke" -> "bruecke")."""
    return unicodedata.normalize("NFC", word).lower().translate(_FOLD)


@dataclass(frozen=True)
class Noun:
    english: str
    land_cover: Optional[str] = None
    english_plural: str = ""  # only where adding -s/-es is wrong

    def in_number(self, plural: bool) -> str:
        if not plural:
            return self.english
        return self.english_plural or pluralize(self.english)


def pluralize(english: str) -> str:
    """Plural of an English noun phrase; only the last word changes."""
    head, _, last = english.rpartition(" ")
    if re.search(r"[^aeiou]y$", last):
        last = last[:-1] + "ies"
    elif re.search(r"(s|x|z|ch|sh)$", last):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}" if head else last


# --- Nouns: German, English, land cover, irregular English plural -------------------

_NOUN_TABLE: tuple[tuple, ...] = (
    # Water
    ("See", "lake", WATER),
    ("Stausee", "reservoir", WATER),
    ("Talsperre", "dam reservoir", WATER),
    ("Biggesee", "Bigge reservoir", WATER),
    ("Listersee", "Lister reservoir", WATER),
    ("Bigge", "Bigge river", WATER),
    ("Fluss", "river", WATER),
    ("Strom", "large river", WATER),
    ("Bach", "stream", WATER),
    ("Teich", "pond", WATER),
    ("Weiher", "pond", WATER),
    ("Tümpel", "small pond", WATER),
    ("Kanal", "canal", WATER),
    ("Hafen", "harbour", WATER),
    ("Jachthafen", "marina", WATER),
    ("Wasserfall", "waterfall", WATER),
    ("Meer", "sea", WATER),
    ("Ozean", "ocean", WATER),
    ("Bucht", "bay", WATER),
    ("Lagune", "lagoon", WATER),
    ("Wasser", "water", WATER),
    ("Gewässer", "body of water", WATER, "bodies of water"),
    ("Quelle", "spring", WATER),
    ("Moor", "bog", WATER),
    ("Sumpf", "swamp", WATER),
    ("Feuchtgebiet", "wetland", WATER),
    ("Mündung", "estuary", WATER),
    ("Brunnen", "fountain", WATER),
    ("Springbrunnen", "fountain", WATER),
    ("Schwimmbad", "swimming pool", WATER),
    ("Freibad", "open-air swimming pool", WATER),
    ("Pool", "pool", WATER),
    ("Burggraben", "moat", WATER),
    ("Graben", "ditch", WATER),
    ("Hochwasser", "flood", WATER),
    ("Überschwemmung", "flood", WATER),
    ("Flut", "flood", WATER),
    ("Pfütze", "puddle", WATER),
    ("Oase", "oasis", WATER, "oases"),
    # Forest and trees
    ("Wald", "forest", FOREST),
    ("Forst", "forest", FOREST),
    ("Urwald", "primeval forest", FOREST),
    ("Regenwald", "rainforest", FOREST),
    ("Nadelwald", "coniferous forest", FOREST),
    ("Laubwald", "deciduous forest", FOREST),
    ("Mischwald", "mixed forest", FOREST),
    ("Dschungel", "jungle", FOREST),
    ("Baum", "tree", FOREST),
    ("Fichte", "spruce", FOREST),
    ("Tanne", "fir", FOREST),
    ("Kiefer", "pine", FOREST),
    ("Buche", "beech", FOREST),
    ("Eiche", "oak", FOREST),
    ("Birke", "birch", FOREST),
    ("Palme", "palm tree", FOREST),
    ("Bambus", "bamboo", FOREST),
    ("Hain", "grove", FOREST),
    ("Gehölz", "copse", FOREST),
    ("Hecke", "hedge", FOREST),
    ("Busch", "bush", FOREST),
    ("Gebüsch", "bushes", FOREST, "bushes"),
    ("Allee", "tree-lined avenue", FOREST),
    # Meadows, parks, gardens
    ("Wiese", "meadow", MEADOW),
    ("Weide", "pasture", MEADOW),
    ("Koppel", "paddock", MEADOW),
    ("Rasen", "lawn", MEADOW),
    ("Gras", "grass", MEADOW, "grass"),
    ("Obstwiese", "orchard meadow", MEADOW),
    ("Streuobstwiese", "traditional orchard meadow", MEADOW),
    ("Blumenwiese", "flower meadow", MEADOW),
    ("Obstgarten", "orchard", MEADOW),
    ("Park", "park", MEADOW),
    ("Stadtpark", "city park", MEADOW),
    ("Garten", "garden", MEADOW),
    ("Schrebergarten", "allotment garden", MEADOW),
    ("Kleingarten", "allotment garden", MEADOW),
    ("Friedhof", "cemetery", MEADOW),
    ("Spielplatz", "playground", MEADOW),
    ("Sportplatz", "sports field", MEADOW),
    ("Fußballplatz", "football pitch", MEADOW),
    ("Golfplatz", "golf course", MEADOW),
    ("Campingplatz", "campsite", MEADOW),
    ("Heide", "heath", MEADOW),
    ("Lichtung", "clearing", MEADOW),
    ("Alm", "alpine pasture", MEADOW),
    ("Tal", "valley", MEADOW),
    ("Hügel", "hill", MEADOW),
    ("Deich", "dyke", MEADOW),
    ("Aue", "floodplain", MEADOW),
    ("Steppe", "steppe", MEADOW),
    ("Savanne", "savanna", MEADOW),
    ("Prärie", "prairie", MEADOW),
    ("Blume", "flower", MEADOW),
    # Fields and farming
    ("Feld", "field", FIELD),
    ("Acker", "farm field", FIELD),
    ("Weinberg", "vineyard", FIELD),
    ("Plantage", "plantation", FIELD),
    ("Getreide", "grain", FIELD, "grain"),
    ("Weizen", "wheat", FIELD, "wheat"),
    ("Mais", "corn", FIELD, "corn"),
    ("Raps", "rapeseed", FIELD, "rapeseed"),
    ("Korn", "grain", FIELD, "grain"),
    ("Reis", "rice", FIELD, "rice"),
    ("Sonnenblume", "sunflower", FIELD),
    ("Lavendel", "lavender", FIELD, "lavender"),
    ("Tulpe", "tulip", FIELD),
    ("Kartoffel", "potato", FIELD, "potatoes"),
    ("Windpark", "wind farm", FIELD),
    # Buildings
    ("Haus", "house", BUILDINGS),
    ("Gebäude", "building", BUILDINGS),
    ("Kirche", "church", BUILDINGS),
    ("Dom", "cathedral", BUILDINGS),
    ("Kapelle", "chapel", BUILDINGS),
    ("Kloster", "monastery", BUILDINGS),
    ("Burg", "castle", BUILDINGS),
    ("Schloss", "palace", BUILDINGS),
    ("Palast", "palace", BUILDINGS),
    ("Festung", "fortress", BUILDINGS),
    ("Turm", "tower", BUILDINGS),
    ("Kirchturm", "church tower", BUILDINGS),
    ("Leuchtturm", "lighthouse", BUILDINGS),
    ("Fernsehturm", "TV tower", BUILDINGS),
    ("Mauer", "wall", BUILDINGS),
    ("Dach", "roof", BUILDINGS),
    ("Stadtmauer", "town wall", BUILDINGS),
    ("Ruine", "ruin", BUILDINGS),
    ("Hochhaus", "high-rise building", BUILDINGS),
    ("Wolkenkratzer", "skyscraper", BUILDINGS),
    ("Stadion", "stadium", BUILDINGS),
    ("Arena", "arena", BUILDINGS),
    ("Bahnhof", "railway station", BUILDINGS),
    ("Fabrik", "factory", BUILDINGS),
    ("Kraftwerk", "power plant", BUILDINGS),
    ("Solarpark", "solar park", BUILDINGS),
    ("Solaranlage", "solar panels", BUILDINGS, "solar panels"),
    ("Mühle", "mill", BUILDINGS),
    ("Windmühle", "windmill", BUILDINGS),
    ("Dorf", "village", BUILDINGS),
    ("Stadt", "town", BUILDINGS),
    ("Großstadt", "big city", BUILDINGS, "big cities"),
    ("Altstadt", "old town", BUILDINGS),
    ("Siedlung", "housing estate", BUILDINGS),
    ("Wohngebiet", "residential area", BUILDINGS),
    ("Viertel", "quarter", BUILDINGS),
    ("Villa", "villa", BUILDINGS),
    ("Hütte", "hut", BUILDINGS),
    ("Scheune", "barn", BUILDINGS),
    ("Stall", "stable", BUILDINGS),
    ("Bauernhof", "farm", BUILDINGS),
    ("Hof", "farmyard", BUILDINGS),
    ("Gewächshaus", "greenhouse", BUILDINGS),
    ("Rathaus", "town hall", BUILDINGS),
    ("Schule", "school", BUILDINGS),
    ("Krankenhaus", "hospital", BUILDINGS),
    ("Museum", "museum", BUILDINGS, "museums"),
    ("Theater", "theatre", BUILDINGS),
    ("Kino", "cinema", BUILDINGS),
    ("Hotel", "hotel", BUILDINGS),
    ("Einkaufszentrum", "shopping centre", BUILDINGS),
    ("Supermarkt", "supermarket", BUILDINGS),
    ("Lagerhalle", "warehouse", BUILDINGS),
    ("Halle", "hall", BUILDINGS),
    ("Tempel", "temple", BUILDINGS),
    ("Pagode", "pagoda", BUILDINGS),
    ("Moschee", "mosque", BUILDINGS),
    ("Pyramide", "pyramid", BUILDINGS),
    ("Fachwerkhaus", "timber-framed house", BUILDINGS),
    ("Parkhaus", "multi-storey car park", BUILDINGS),
    ("Brauerei", "brewery", BUILDINGS, "breweries"),
    ("Universität", "university", BUILDINGS, "universities"),
    ("Sternwarte", "observatory", BUILDINGS, "observatories"),
    # Roads, squares, rails
    ("Straße", "street", ROAD),
    ("Autobahn", "motorway", ROAD),
    ("Weg", "path", ROAD),
    ("Radweg", "cycle path", ROAD),
    ("Gasse", "alley", ROAD),
    ("Brücke", "bridge", ROAD),
    ("Parkplatz", "parking lot", ROAD),
    ("Platz", "square", ROAD),
    ("Marktplatz", "market square", ROAD),
    ("Fußgängerzone", "pedestrian zone", ROAD),
    ("Kreuzung", "crossroads", ROAD, "crossroads"),
    ("Kreisverkehr", "roundabout", ROAD),
    ("Schiene", "railway track", ROAD),
    ("Gleis", "railway track", ROAD),
    ("Eisenbahn", "railway", ROAD),
    ("Bahnstrecke", "railway line", ROAD),
    ("Bahnlinie", "railway line", ROAD),
    ("Eisenbahnlinie", "railway line", ROAD),
    ("Tunnel", "tunnel", ROAD),
    ("Flughafen", "airport", ROAD),
    ("Landebahn", "runway", ROAD),
    ("Rennstrecke", "race track", ROAD),
    ("Promenade", "promenade", ROAD),
    ("Kai", "quay", ROAD),
    # Sand and bare ground
    ("Wüste", "desert", SAND),
    ("Strand", "beach", SAND),
    ("Sandstrand", "sandy beach", SAND),
    ("Sand", "sand", SAND, "sand"),
    ("Düne", "dune", SAND),
    ("Küste", "coast", SAND),
    ("Kies", "gravel", SAND, "gravel"),
    ("Kiesgrube", "gravel pit", SAND),
    ("Sandkasten", "sandpit", SAND),
    ("Baustelle", "construction site", SAND),
    # Snow and ice
    ("Schnee", "snow", SNOW, "snow"),
    ("Eis", "ice", SNOW, "ice"),
    ("Gletscher", "glacier", SNOW),
    ("Eisberg", "iceberg", SNOW),
    ("Eisbahn", "ice rink", SNOW),
    ("Schneefeld", "snowfield", SNOW),
    ("Skipiste", "ski slope", SNOW),
    ("Skigebiet", "ski resort", SNOW),
    ("Iglu", "igloo", SNOW),
    ("Lawine", "avalanche", SNOW),
    ("Winter", "winter", SNOW),
    # Rock
    ("Berg", "mountain", ROCK),
    ("Gebirge", "mountain range", ROCK),
    ("Gipfel", "summit", ROCK),
    ("Fels", "rock", ROCK),
    ("Felsen", "rock", ROCK),
    ("Felswand", "rock face", ROCK),
    ("Stein", "stone", ROCK),
    ("Steinbruch", "quarry", ROCK, "quarries"),
    ("Klippe", "cliff", ROCK),
    ("Schlucht", "gorge", ROCK),
    ("Canyon", "canyon", ROCK),
    ("Höhle", "cave", ROCK),
    ("Krater", "crater", ROCK),
    ("Geröll", "scree", ROCK, "scree"),
    ("Bergwerk", "mine", ROCK),
    ("Tagebau", "open-pit mine", ROCK),
    # Fire
    ("Vulkan", "volcano", LAVA, "volcanoes"),
    ("Lava", "lava", LAVA, "lava"),
    ("Magma", "magma", LAVA, "magma"),
    ("Feuer", "fire", LAVA),
    # Things in the landscape without a land cover of their own
    ("Insel", "island", None),
    ("Ufer", "shore", None),
    ("Staudamm", "dam", None),
    ("Damm", "dam", None),
    ("Windrad", "wind turbine", None),
    ("Windkraftanlage", "wind turbine", None),
    ("Riesenrad", "Ferris wheel", None),
    ("Achterbahn", "roller coaster", None),
    ("Freizeitpark", "amusement park", None),
    ("Zoo", "zoo", None),
    ("Seilbahn", "cable car", None),
    ("Denkmal", "monument", None),
    ("Statue", "statue", None),
    ("Boot", "boat", None),
    ("Segelboot", "sailing boat", None),
    ("Schiff", "ship", None),
    ("Auto", "car", None),
    ("Zug", "train", None),
    ("Flugzeug", "aeroplane", None),
    ("Ufo", "UFO", None),
    ("Rakete", "rocket", None),
    ("Tier", "animal", None),
    ("Kuh", "cow", None),
    ("Pferd", "horse", None),
    ("Schaf", "sheep", None, "sheep"),
    ("Dinosaurier", "dinosaur", None),
    ("Drache", "dragon", None),
    ("Zelt", "tent", None),
    ("Landschaft", "landscape", None),
    ("Natur", "nature", None),
    ("Mittelalter", "Middle Ages", None, "Middle Ages"),
    ("Zukunft", "future", None),
    ("Sommer", "summer", None),
    ("Herbst", "autumn", None),
    ("Kreis", "district", None),
    ("Olpe", "Olpe", None, "Olpe"),
)

GERMAN_NOUNS: dict[str, Noun] = {fold(row[0]): Noun(*row[1:]) for row in _NOUN_TABLE}

# --- Adjectives (stems; endings are stripped before lookup) -------------------------

_ADJECTIVE_TABLE: tuple[tuple[str, str, Optional[str]], ...] = (
    ("groß", "large", None),
    ("riesig", "huge", None),
    ("klein", "small", None),
    ("winzig", "tiny", None),
    ("alt", "old", None),
    ("neu", "new", None),
    ("modern", "modern", None),
    ("mittelalterlich", "medieval", None),
    ("historisch", "historic", None),
    ("römisch", "Roman", None),
    ("japanisch", "Japanese", None),
    ("barock", "baroque", None),
    ("gotisch", "Gothic", None),
    ("futuristisch", "futuristic", None),
    ("tropisch", "tropical", None),
    ("hoch", "tall", None),
    ("hoh", "tall", None),
    ("tief", "deep", None),
    ("breit", "wide", None),
    ("weit", "wide", None),
    ("schmal", "narrow", None),
    ("lang", "long", None),
    ("rund", "round", None),
    ("flach", "flat", None),
    ("steil", "steep", None),
    ("dicht", "dense", None),
    ("blau", "blue", None),
    ("grün", "green", None),
    ("rot", "red", None),
    ("gelb", "yellow", None),
    ("weiß", "white", None),
    ("schwarz", "black", None),
    ("türkis", "turquoise", None),
    ("golden", "golden", None),
    ("bunt", "colourful", None),
    ("dunkel", "dark", None),
    ("dunkl", "dark", None),
    ("hell", "bright", None),
    ("klar", "clear", None),
    ("ruhig", "calm", None),
    ("wild", "wild", None),
    ("schön", "beautiful", None),
    ("sonnig", "sunny", None),
    ("trocken", "dry", None),
    ("verlassen", "abandoned", None),
    ("zerstört", "ruined", None),
    ("verschneit", "snowy", SNOW),
    ("gefroren", "frozen", SNOW),
    ("zugefroren", "frozen", SNOW),
    ("vereist", "icy", SNOW),
    ("überflutet", "flooded", WATER),
    ("überflut", "flooded", WATER),
    ("überschwemmt", "flooded", WATER),
    ("bewaldet", "wooded", FOREST),
    ("sandig", "sandy", SAND),
    ("felsig", "rocky", ROCK),
)

GERMAN_ADJECTIVES: dict[str, tuple[str, Optional[str]]] = {
    fold(german): (english, cover) for german, english, cover in _ADJECTIVE_TABLE
}

# Words that only ever begin a compound ("Badesee" -> swimming lake).
COMPOUND_MODIFIERS: dict[str, str] = {
    "bade": "swimming",
    "atom": "nuclear",
    "kirsch": "cherry",
    "apfel": "apple",
    "obst": "fruit",
    "wind": "wind",
    "sonnen": "sunny",
    "berg": "mountain",
    "stau": "dammed",
    "gross": "large",
    "klein": "small",
    "alt": "old",
    "neu": "new",
    "hoch": "high",
}

# --- Function words and wish phrasing: "" means the word is dropped ----------------

_DROP = (
    "was wäre waere wären waeren wenn ob wie dass hier da dort hierhin dahin daraus draus "
    "drauf ich mir mich wir uns du dir ihr man sich es sie er "
    "bitte gerne gern doch mal einfach vielleicht auch noch schon ja nur so dann jetzt "
    "sehr eigentlich mal wieder weg hin hinzu herum vor nach aus "
    "ist sind sei sein wird würde wuerde würden wuerden werden wäre gibt gäbe gaebe geben "
    "steht stünde stuende stehen stehe hätte haette hätten haetten haben hat habe "
    "soll sollte sollen könnte koennte könnten kann können möchte moechte möchten "
    "will wollen wünsche wuensche wünschen wünscht mach mache macht machen "
    "bau baue baut bauen setz setze setzt setzen stell stelle stellt stellen "
    "pflanz pflanze pflanzt pflanzen mal male malt malen zeig zeige zeigt zeigen "
    "verwandle verwandel verwandelt verwandeln erschaffe erstelle entstehen entsteht "
    "aussehen aussieht sehen hinstellen hinbauen anlegen lege leg legen "
    "toll cool super"
)

_TRANSLATED_FUNCTION_WORDS = {
    "der": "the", "die": "the", "das": "the", "den": "the", "dem": "the", "des": "the",
    "ein": "a", "eine": "a", "einen": "a", "einem": "a", "einer": "a", "eines": "a",
    "kein": "no", "keine": "no", "keinen": "no", "keinem": "no", "keiner": "no",
    "mit": "with", "und": "and", "oder": "or", "ohne": "without",
    "auf": "on", "in": "in", "im": "in the", "ins": "into the", "an": "at", "am": "at the",
    "neben": "next to", "um": "around", "über": "over", "unter": "under",
    "zwischen": "between", "hinter": "behind", "bei": "near", "beim": "near the",
    "entlang": "along", "mitten": "in the middle of", "zum": "to the", "zur": "to the",
    "von": "of", "vom": "of the", "für": "for", "gegenüber": "opposite",
    "statt": "instead of", "anstatt": "instead of", "anstelle": "instead of",
    "stattdessen": "instead", "voller": "full of", "voll": "full of",
    "überall": "everywhere", "viel": "many", "viele": "many", "vielen": "many",
    "einige": "some", "einigen": "some", "mehrere": "several", "paar": "few",
    "menge": "lot of", "mehr": "more", "alle": "all", "allen": "all",
    "ganz": "whole", "ganze": "whole", "ganzen": "whole", "ganzer": "whole",
    "zwei": "two", "drei": "three", "vier": "four", "fünf": "five", "sechs": "six",
    "sieben": "seven", "acht": "eight", "neun": "nine", "zehn": "ten", "zwölf": "twelve",
    "hundert": "a hundred", "tausend": "a thousand",
}

GERMAN_FUNCTION_WORDS: dict[str, str] = {
    **{fold(word): "" for word in _DROP.split()},
    **{fold(word): english for word, english in _TRANSLATED_FUNCTION_WORDS.items()},
}

PLURAL_DETERMINERS = frozenset(
    "two three four five six seven eight nine ten twelve many some several few more all "
    "hundred thousand".split()
) | {"lot of", "a hundred", "a thousand"}
SINGULAR_DETERMINERS = frozenset({"a"})

# --- English keywords: what English words look like from above ----------------------

_ENGLISH_KEYWORDS_BY_COVER: dict[str, str] = {
    WATER: (
        "lake, pond, pool, swimming pool, river, stream, creek, brook, canal, harbour, harbor, "
        "port, marina, sea, ocean, bay, lagoon, reservoir, water, waterfall, fountain, swamp, "
        "marsh, bog, moor, wetland, flood, floodwater, flooded, estuary, moat, fjord, oasis, "
        "dam reservoir, body of water, ditch, puddle, spring"
    ),
    FOREST: (
        "forest, woods, woodland, tree, jungle, rainforest, palm, palm tree, grove, hedge, "
        "bush, spruce, fir, pine, oak, beech, birch, bamboo, wooded, copse, tree-lined avenue"
    ),
    MEADOW: (
        "meadow, grass, grassland, lawn, pasture, park, garden, cemetery, graveyard, "
        "playground, golf course, football pitch, sports field, heath, clearing, valley, hill, "
        "orchard, prairie, steppe, savanna, allotment, campsite, flower, paddock, dyke, "
        "city park, floodplain"
    ),
    FIELD: (
        "field, farmland, cropland, crop, wheat, corn, maize, barley, rapeseed, vineyard, "
        "plantation, sunflower, lavender, rice, potato, wind farm, farm field, grain, tulip"
    ),
    BUILDINGS: (
        "house, building, church, cathedral, chapel, monastery, abbey, castle, palace, "
        "fortress, tower, skyscraper, high-rise, high-rise building, stadium, arena, factory, "
        "power plant, railway station, train station, station, town, city, village, mill, "
        "windmill, farm, barn, town hall, school, hospital, museum, hotel, mall, "
        "shopping centre, shopping center, temple, pagoda, pyramid, mosque, ruin, lighthouse, "
        "greenhouse, solar park, solar panel, warehouse, villa, hut, cabin, suburb, "
        "settlement, housing estate, residential area, old town, wall, town wall, skyline, roof, "
        "quarter, stable, farmyard, theatre, theater, cinema, supermarket, hall, brewery, "
        "university, observatory, big city, TV tower, multi-storey car park"
    ),
    ROAD: (
        "road, street, highway, motorway, freeway, path, bridge, parking lot, car park, "
        "parking, square, market square, crossroads, roundabout, railway, railway track, "
        "railway line, rail, track, tunnel, runway, airport, alley, promenade, plaza, "
        "race track, cycle path, pedestrian zone, quay"
    ),
    SAND: (
        "desert, beach, sandy beach, sand, dune, gravel, gravel pit, construction site, coast, "
        "sandpit, sandy"
    ),
    SNOW: (
        "snow, snowy, ice, icy, glacier, frozen, ski slope, ski resort, ice rink, iceberg, "
        "igloo, snowfield, avalanche, winter"
    ),
    ROCK: (
        "rock, rocky, mountain, mountain range, cliff, quarry, stone, boulder, canyon, gorge, "
        "crater, cave, summit, peak, scree, mine, open-pit mine, rock face"
    ),
    LAVA: "volcano, lava, magma, eruption, fire",
}

ENGLISH_KEYWORDS: dict[str, str] = {
    keyword.strip().lower(): cover
    for cover, keywords in _ENGLISH_KEYWORDS_BY_COVER.items()
    for keyword in keywords.split(",")
}

# Tags that tell a diffusion model how a keyword looks in an aerial photo.
KEYWORD_TAGS: dict[str, str] = {
    "lake": "lake, calm water surface, natural shoreline",
    "reservoir": "reservoir, dam wall, calm water surface",
    "dam reservoir": "reservoir, dam wall, calm water surface",
    "pond": "pond, still water, reeds at the edge",
    "river": "winding river, riverbanks",
    "stream": "small stream, meandering water, green banks",
    "canal": "straight canal, stone embankments",
    "harbour": "harbour, piers, moored boats",
    "harbor": "harbour, piers, moored boats",
    "sea": "open sea, waves, coastline",
    "waterfall": "waterfall, white water, wet rocks",
    "swimming pool": "swimming pool, turquoise water, pool deck",
    "swamp": "swamp, murky water, reeds",
    "bog": "bog, dark peat pools, heather",
    "flood": "floodwater, submerged land",
    "forest": "dense forest, tree canopy",
    "jungle": "dense tropical jungle canopy",
    "rainforest": "dense tropical rainforest canopy",
    "palm tree": "palm trees, star-shaped crowns",
    "meadow": "green meadow, wild grass",
    "park": "park, lawns, trees, footpaths",
    "garden": "garden, flower beds, lawn",
    "cemetery": "cemetery, rows of graves, trees",
    "playground": "playground, play equipment, sandpit",
    "golf course": "golf course, fairways, bunkers",
    "field": "farm fields, crop rows",
    "vineyard": "vineyard, rows of vines on a slope",
    "house": "houses, pitched roofs, gardens",
    "church": "church, pitched roof, bell tower",
    "castle": "castle, stone walls, towers, courtyard",
    "palace": "palace, symmetrical wings, courtyard",
    "skyscraper": "skyscrapers, flat roofs, long shadows",
    "high-rise building": "high-rise buildings, flat roofs, long shadows",
    "stadium": "stadium, oval stands, green pitch",
    "factory": "factory, large flat roofs, chimneys",
    "power plant": "power plant, cooling towers, industrial buildings",
    "railway station": "railway station, platforms, tracks",
    "village": "village, scattered houses, gardens",
    "town": "town, dense rooftops, streets",
    "city": "city, dense blocks, streets",
    "road": "road, asphalt, road markings",
    "street": "street, asphalt, road markings",
    "motorway": "motorway, multiple lanes, road markings",
    "bridge": "bridge, road crossing over water",
    "parking lot": "parking lot, marked parking spaces, parked cars",
    "market square": "market square, cobblestones, market stalls",
    "airport": "airport, runways, terminal buildings",
    "railway": "railway tracks, gravel bed",
    "beach": "sandy beach, shoreline, surf",
    "desert": "desert, sand dunes, ripples",
    "island": "island surrounded by water, shoreline",
    "snow": "fresh white snow, snow-covered ground",
    "glacier": "glacier, crevasses, blue ice",
    "mountain": "mountain, ridges, rocky slopes",
    "quarry": "quarry, terraced rock faces",
    "cliff": "cliffs, steep rock faces",
    "volcano": "volcano, crater, glowing lava flows",
    "lava": "glowing lava flows, black volcanic rock",
    "wind turbine": "wind turbines, white towers, long shadows",
    "solar park": "rows of solar panels",
    "vineyard terrace": "vineyard terraces",
}

LAND_COVER_TAGS: dict[str, str] = {
    WATER: "water surface, shoreline",
    FOREST: "tree canopy, forest from above",
    MEADOW: "green grass, open meadow",
    FIELD: "farmland, crop rows",
    BUILDINGS: "rooftops, buildings from above",
    ROAD: "asphalt, road markings",
    SAND: "sandy ground, fine sand texture",
    SNOW: "white snow cover",
    ROCK: "bare rock, rocky terrain",
    LAVA: "glowing lava, volcanic rock",
}

_ENGLISH_FUNCTION_WORDS = frozenset(
    """
    a an the of with and or in on at to from by for into onto instead rather than without
    there here is are was were be been being would could should will can what if how about
    i me my we our us you your it its this that these those some many much lots lot few
    several more no not all every whole big small large huge tiny old new make build put
    turn add want wish like love please imagine full near next around over under between
    behind along middle where look had have has let lets place spot area entire two three
    four five ten hundred thousand get see show paint create just really nice beautiful
    """.split()
)

ENGLISH_WORDS: frozenset[str] = (
    _ENGLISH_FUNCTION_WORDS
    | {word for keyword in (*ENGLISH_KEYWORDS, *KEYWORD_TAGS) for word in keyword.split()}
    | {word.lower() for noun in GERMAN_NOUNS.values() for word in noun.english.split()}
    | {english.lower() for english, _ in GERMAN_ADJECTIVES.values()}
)

GERMAN_WORDS: frozenset[str] = frozenset(GERMAN_NOUNS) | frozenset(GERMAN_FUNCTION_WORDS)
