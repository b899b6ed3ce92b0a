"""Dutch wishes without a network: the Dutch words for the German glossary's nouns.

Many of the museum's visitors come from the Netherlands. When Google Translate
cannot be reached, a Dutch wish ("Wat als hier een meer was?") is translated
here, word by word like a German one (`inpainting_core.glossary`). A Dutch
noun names the German noun it means, so its English, its land cover and its
English plural stay one fact in the German table; the same for adjectives.
Plurals (-en, -s, -'s, doubled vowels and z/v for s/f: "meren", "bomen",
"huizen") and compounds ("zwembad", "bergmeer") are reduced to a known word.
"""

from __future__ import annotations

import unicodedata
from typing import Iterator, Optional

from inpainting_core.glossary import _TOKEN, Match, _known_keyword, _Sentence, tidy
from inpainting_core.vocabulary import (
    GERMAN_ADJECTIVES,
    GERMAN_NOUNS,
    PLURAL_DETERMINERS,
    Noun,
    fold,
)


def fold_dutch(word: str) -> str:
    """Lowercase without accents ("één" -> "een", "financiële" -> "financiele")."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("-", ""))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# Dutch noun (singular), then the German noun of the glossary it means.
_NOUN_TABLE = """
meer See; stuwmeer Stausee; stuwdam Staudamm; rivier Fluss; stroom Strom; beek Bach;
vijver Teich; poel Tümpel; kanaal Kanal; gracht Kanal; haven Hafen; jachthaven Jachthafen;
waterval Wasserfall; zee Meer; oceaan Ozean; baai Bucht; lagune Lagune; water Wasser;
bron Quelle; veen Moor; moeras Sumpf; monding Mündung; fontein Springbrunnen;
zwembad Schwimmbad; openluchtzwembad Freibad; slotgracht Burggraben; sloot Graben;
overstroming Überschwemmung; vloed Flut; plas Pfütze; oase Oase; biggemeer Biggesee;
bos Wald; woud Wald; oerwoud Urwald; regenwoud Regenwald; naaldbos Nadelwald;
loofbos Laubwald; jungle Dschungel; boom Baum; spar Fichte;
den Kiefer; beuk Buche; eik Eiche; berk Birke; palm Palme; palmboom Palme; bamboe Bambus;
bosje Gehölz; haag Hecke; heg Hecke; struik Busch; laan Allee;
weide Wiese; wei Weide; grasland Wiese; gazon Rasen; gras Gras; boomgaard Obstgarten;
bloemenweide Blumenwiese; park Park; stadspark Stadtpark; tuin Garten; volkstuin Schrebergarten;
begraafplaats Friedhof; kerkhof Friedhof; speeltuin Spielplatz; sportveld Sportplatz;
voetbalveld Fußballplatz; golfbaan Golfplatz; camping Campingplatz; heide Heide;
alm Alm; dal Tal; vallei Tal; heuvel Hügel; dijk Deich; uiterwaard Aue;
steppe Steppe; savanne Savanne; prairie Prärie; bloem Blume;
veld Feld; akker Acker; wijngaard Weinberg; plantage Plantage; graan Getreide; tarwe Weizen;
maïs Mais; koolzaad Raps; koren Korn; rijst Reis; zonnebloem Sonnenblume; lavendel Lavendel;
tulp Tulpe; aardappel Kartoffel; windpark Windpark;
huis Haus; gebouw Gebäude; kerk Kirche; dom Dom; kathedraal Dom; kapel Kapelle;
klooster Kloster; abdij Kloster; burcht Burg; kasteel Burg; slot Schloss; paleis Palast;
vesting Festung; fort Festung; toren Turm; kerktoren Kirchturm; vuurtoren Leuchtturm;
televisietoren Fernsehturm; muur Mauer; dak Dach; stadsmuur Stadtmauer; ruïne Ruine;
flat Hochhaus; hoogbouw Hochhaus; wolkenkrabber Wolkenkratzer; stadion Stadion; arena Arena;
station Bahnhof; treinstation Bahnhof; fabriek Fabrik; energiecentrale Kraftwerk;
centrale Kraftwerk; zonnepark Solarpark; zonnepanelen Solaranlage; molen Mühle;
windmolen Windmühle; dorp Dorf; stad Stadt; 
binnenstad Altstadt; wijk Viertel; woonwijk Wohngebiet; nederzetting Siedlung; villa Villa;
hut Hütte; schuur Scheune; stal Stall; boerderij Bauernhof; erf Hof; kas Gewächshaus;
broeikas Gewächshaus; stadhuis Rathaus; school Schule; ziekenhuis Krankenhaus;
museum Museum; theater Theater; schouwburg Theater; bioscoop Kino; hotel Hotel;
winkelcentrum Einkaufszentrum; supermarkt Supermarkt; pakhuis Lagerhalle; loods Lagerhalle;
hal Halle; tempel Tempel; pagode Pagode; moskee Moschee; piramide Pyramide;
vakwerkhuis Fachwerkhaus; parkeergarage Parkhaus; brouwerij Brauerei;
universiteit Universität; sterrenwacht Sternwarte;
straat Straße; weg Straße; snelweg Autobahn; pad Weg; fietspad Radweg; steeg Gasse;
brug Brücke; parkeerplaats Parkplatz; plein Platz; marktplein Marktplatz; markt Marktplatz;
voetgangersgebied Fußgängerzone; kruispunt Kreuzung; rotonde Kreisverkehr; rails Schiene;
spoor Gleis; spoorweg Eisenbahn; spoorlijn Bahnstrecke; tunnel Tunnel; vliegveld Flughafen;
luchthaven Flughafen; landingsbaan Landebahn; racebaan Rennstrecke; circuit Rennstrecke;
promenade Promenade; boulevard Promenade; kade Kai;
woestijn Wüste; strand Strand; zandstrand Sandstrand; zand Sand; duin Düne; kust Küste;
grind Kies; grindgroeve Kiesgrube; zandbak Sandkasten; bouwplaats Baustelle;
sneeuw Schnee; ijs Eis; gletsjer Gletscher; ijsberg Eisberg; ijsbaan Eisbahn;
schaatsbaan Eisbahn; skipiste Skipiste; skigebied Skigebiet; iglo Iglu; lawine Lawine;
winter Winter;
berg Berg; gebergte Gebirge; top Gipfel; rots Fels; rotswand Felswand; steen Stein;
steengroeve Steinbruch; groeve Steinbruch; klif Klippe; kloof Schlucht; canyon Canyon;
grot Höhle; krater Krater; puin Geröll; mijn Bergwerk; dagbouw Tagebau;
vulkaan Vulkan; lava Lava; magma Magma; vuur Feuer;
eiland Insel; oever Ufer; dam Damm; windturbine Windrad; reuzenrad Riesenrad;
achtbaan Achterbahn; pretpark Freizeitpark; dierentuin Zoo; kabelbaan Seilbahn;
monument Denkmal; standbeeld Statue; beeld Statue; boot Boot; zeilboot Segelboot;
schip Schiff; auto Auto; trein Zug; vliegtuig Flugzeug; ufo Ufo; raket Rakete; dier Tier;
koe Kuh; paard Pferd; schaap Schaf; dinosaurus Dinosaurier; draak Drache; tent Zelt;
landschap Landschaft; natuur Natur; middeleeuwen Mittelalter; toekomst Zukunft;
zomer Sommer; herfst Herbst; olpe Olpe
"""

# Plurals that no rule finds (the rules: -en, -s, -'s, doubled vowels, z -> s, v -> f).
_IRREGULAR_PLURALS = {
    "steden": "stad", "schepen": "schip", "koeien": "koe", "eieren": "ei", "kinderen": "kind",
    "wegen": "weg", "dalen": "dal", "paden": "pad", "hutten": "hut", "hallen": "hal",
    "bossen": "bos", "dammen": "dam", "wijngaarden": "wijngaard", "kerken": "kerk",
    "dieren": "dier", "sloten": "sloot", "molens": "molen",
}

_ADJECTIVE_TABLE = """
groot groß; reusachtig riesig; enorm riesig; klein klein; piepklein winzig; oud alt;
nieuw neu; modern modern; middeleeuws mittelalterlich; historisch historisch;
romeins römisch; japans japanisch; barok barock; gotisch gotisch; futuristisch futuristisch;
tropisch tropisch; hoog hoch; diep tief; breed breit; wijd weit; smal schmal; lang lang;
rond rund; vlak flach; plat flach; steil steil; dicht dicht; blauw blau; groen grün; rood rot;
geel gelb; wit weiß; zwart schwarz; turquoise türkis; gouden golden; kleurrijk bunt;
bont bunt; donker dunkel; licht hell; helder klar; rustig ruhig; wild wild; mooi schön;
prachtig schön; zonnig sonnig; droog trocken; verlaten verlassen; verwoest zerstört;
besneeuwd verschneit; bevroren gefroren; ijzig vereist; overstroomd überflutet;
bebost bewaldet; zanderig sandig; rotsachtig felsig
"""

# "" means the word is dropped: wish phrasing, pronouns, verbs of making and wanting.
_DROP = (
    "wat als hoe zou zouden zij het hier daar er erin eruit ik me mij mijn we wij ons je jij "
    "jou u uw men zich ze hij dan nu toch eens gewoon misschien ook nog al wel ja maar zo "
    "graag alsjeblieft alstublieft even weer heen is zijn was waren wordt worden werd "
    "stond stonden staat staan lag lagen ligt liggen kwam komen komt geweest heb hebt heeft "
    "hebben had hadden moet moeten mag mogen kan kunnen kon konden wil willen wilde wens "
    "wensen maak maakt maken bouw bouwt bouwen zet zetten plant planten schilder schilderen "
    "toon tonen laat laten verander veranderen verandert eruitzien uitzien zien leuk gaaf "
    "super heel erg zeer dat die deze dit"
)

_TRANSLATED_FUNCTION_WORDS = {
    "de": "the", "het": "the", "'t": "the", "een": "a", "geen": "no", "met": "with",
    "en": "and", "of": "or", "zonder": "without", "op": "on", "in": "in", "aan": "at",
    "naast": "next to", "rond": "around", "rondom": "around", "over": "over",
    "boven": "above", "onder": "under", "tussen": "between", "achter": "behind",
    "bij": "near", "langs": "along", "midden": "in the middle of", "naar": "to",
    "van": "of", "voor": "for", "tegenover": "opposite", "vol": "full of",
    "overal": "everywhere", "veel": "many", "vele": "many", "enkele": "some", "sommige": "some",
    "meerdere": "several", "paar": "few", "meer": "more", "alle": "all", "hele": "whole",
    "heel": "whole", "twee": "two", "drie": "three", "vier": "four", "vijf": "five",
    "zes": "six", "zeven": "seven", "acht": "eight", "negen": "nine", "tien": "ten",
    "twaalf": "twelve", "honderd": "a hundred", "duizend": "a thousand",
}

# "in plaats van" (instead of) is one phrase; its words alone mean something else.
_PHRASES = {("in", "plaats", "van"): "instead of"}


def _table(text: str) -> dict[str, str]:
    pairs = (item.strip().rsplit(" ", 1) for item in text.replace("\n", " ").split(";"))
    return {fold_dutch(dutch): target for dutch, target in pairs}


DUTCH_NOUNS: dict[str, Noun] = {
    dutch: GERMAN_NOUNS[fold(german)] for dutch, german in _table(_NOUN_TABLE).items()
}
DUTCH_ADJECTIVES: dict[str, tuple[str, Optional[str]]] = {
    dutch: GERMAN_ADJECTIVES[fold(german)] for dutch, german in _table(_ADJECTIVE_TABLE).items()
}
DUTCH_FUNCTION_WORDS: dict[str, str] = {
    **{word: "" for word in _DROP.split()},
    **_TRANSLATED_FUNCTION_WORDS,
}
DUTCH_WORDS: frozenset[str] = frozenset(DUTCH_NOUNS) | frozenset(DUTCH_FUNCTION_WORDS)

_MIN_STEM = 3
_MIN_COMPOUND_HEAD = 3
# short tails that are compounds' heads ("ijsbaan" is not one: "baan" is unknown)
_SHORT_COMPOUND_HEADS = frozenset({"bos", "dal", "dak", "ijs", "zee", "pad", "hut", "dam", "dorp"})
_VOWELS = "aeiou"


def _candidate_stems(word: str) -> Iterator[tuple[str, bool]]:
    """The word, then what its plural or diminutive forms may come from, with plural or not."""
    yield word, False
    if word in _IRREGULAR_PLURALS:
        yield _IRREGULAR_PLURALS[word], True
    for ending in ("'s", "s", "en", "eren", "jes", "tjes", "je", "tje"):
        if not word.endswith(ending) or len(word) - len(ending) < _MIN_STEM:
            continue
        stem = word[: -len(ending)]
        plural = not ending.startswith(("j", "tj")) or ending.endswith("s")
        yield stem, plural
        # "huizen" -> "huis", "golven" -> "golf"
        if stem[-1] in "zv":
            yield stem[:-1] + {"z": "s", "v": "f"}[stem[-1]], plural
        # an open syllable doubles its vowel in the singular: "bomen" -> "boom"
        if len(stem) >= 2 and stem[-2] in _VOWELS and stem[-1] not in _VOWELS:
            doubled = stem[:-1] + stem[-2] + stem[-1]
            yield doubled, plural
            if doubled[-1] in "zv":
                yield doubled[:-1] + {"z": "s", "v": "f"}[doubled[-1]], plural
        # a doubled consonant is single in the singular: "bossen" -> "bos"
        if len(stem) >= 2 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS:
            yield stem[:-1], plural


def lookup_noun(word: str) -> Optional[Match]:
    """A Dutch noun in either number, or the tail of a compound ("bergmeer")."""
    stems = list(_candidate_stems(fold_dutch(word)))
    for stem, plural in stems:
        if stem in DUTCH_NOUNS:
            return Match(DUTCH_NOUNS[stem], plural)
    compounds = [  # every known tail of every stem; the longest tail wins ("tulpenvelden")
        (len(stem) - start, stem[:start], stem[start:], plural)
        for stem, plural in stems
        for start in range(_MIN_STEM, len(stem) - _MIN_COMPOUND_HEAD + 1)
        if stem[start:] in DUTCH_NOUNS
        and (len(stem) - start >= 4 or stem[start:] in _SHORT_COMPOUND_HEADS)
    ]
    if compounds:
        _length, front, head, plural = max(compounds, key=lambda item: item[0])
        modifier = next((DUTCH_NOUNS[stem] for stem, _ in _candidate_stems(front.rstrip("s"))
                         if stem in DUTCH_NOUNS), None)
        adjective = lookup_adjective(front)
        english = modifier.english if modifier else adjective[0] if adjective else ""
        return Match(DUTCH_NOUNS[head], plural, english)
    return None


def lookup_adjective(word: str) -> Optional[tuple[str, Optional[str]]]:
    folded = fold_dutch(word)
    for candidate in (folded, folded[:-1] if folded.endswith("e") else None):
        if candidate in DUTCH_ADJECTIVES:
            return DUTCH_ADJECTIVES[candidate]
        # "grote" -> "groot", "blauwe" -> "blauw", "dikke" -> "dik"
        if candidate and len(candidate) >= 2 and candidate[-2] in _VOWELS:
            doubled = candidate[:-1] + candidate[-2] + candidate[-1]
            if doubled in DUTCH_ADJECTIVES:
                return DUTCH_ADJECTIVES[doubled]
        if candidate and len(candidate) >= 2 and candidate[-1] == candidate[-2]:
            if candidate[:-1] in DUTCH_ADJECTIVES:
                return DUTCH_ADJECTIVES[candidate[:-1]]
    return None


def _translate_token(token: str, sentence: _Sentence) -> None:
    if token.isdigit():
        sentence.add_determiner(token)
        return
    folded = fold_dutch(token)
    if folded in DUTCH_NOUNS and (token[0].isupper() or folded not in DUTCH_FUNCTION_WORDS):
        sentence.add_noun(Match(DUTCH_NOUNS[folded], plural=False))  # "Meer" the lake
    elif folded in DUTCH_FUNCTION_WORDS:
        if DUTCH_FUNCTION_WORDS[folded]:
            sentence.add_determiner(DUTCH_FUNCTION_WORDS[folded])
    elif match := lookup_noun(token):
        sentence.add_noun(match)
    elif adjective := lookup_adjective(token):
        sentence.words.append(adjective[0])
    elif token[0].isupper() or _known_keyword([token.lower()]):
        sentence.words.append(token)  # a name, or an English word in a Dutch wish


def translate(text: str) -> str:
    """English for a Dutch wish, word by word; unknown lowercase words are dropped.

    "meer" is both the lake and "more": after a determiner or an adjective it is
    the lake ("een meer", "een groot meer"), before a noun it is "more".
    """
    sentence = _Sentence(words=[])
    tokens = _TOKEN.findall(text)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        phrase = tuple(fold_dutch(word) for word in tokens[index:index + 3])
        if phrase in _PHRASES:
            sentence.words.append(_PHRASES[phrase])
            index += 3
            continue
        if token in ",.;:!?":
            sentence.words.append(",")
            sentence.number = None
        elif fold_dutch(token) == "meer" and _is_the_lake(tokens, index, sentence):
            sentence.add_noun(Match(DUTCH_NOUNS["meer"], plural=False))
        else:
            _translate_token(token, sentence)
        index += 1
    return tidy(" ".join(sentence.words))


def _is_the_lake(tokens: list[str], index: int, sentence: _Sentence) -> bool:
    following = tokens[index + 1] if index + 1 < len(tokens) else ""
    if following and following not in ",.;:!?" and lookup_noun(following):
        return False  # "meer bomen": more trees
    previous = sentence.words[-1] if sentence.words else ""
    return previous not in PLURAL_DETERMINERS
