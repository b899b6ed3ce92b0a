"""The blocklist the platform ships with: a starting point for curators, not a complete list.

Migration 0002 copies these terms into `BlockedTerm` rows once; from then on
curators own the list in the admin (edit, deactivate, add). A term later added
here reaches existing installations only through a new data migration that
adds just the new terms, so a term a curator deleted does not come back
(migration 0005 did so for the extremist symbols and terms of issue 11).

How terms are matched (see `museum.spelling` and `museum.matcher`): spelling is normalised on
both sides (case, look-alike letters from other scripts, accents, ä/ö/ü/ß as
ae/oe/ue/ss, digits and signs used as letters, repeated letters, dots or
spaces between letters), and a term also matches inside longer words, because
German builds compounds ("Judenhasser", "Scheißkerl"), with an umlaut dropped
to its plain vowel ("Morder"), and with spaces inside it ("Hit ler"). Terms
that hide inside harmless words are `whole_word_only`: they match exactly, as
whole words, and words with an everyday meaning are left out on purpose:

* "arsch" is whole-word because of "Marsch" (also: marshland), "anal" because
  of "Kanal", "porn" because of "Bergsporn", "shit" because of "Shiitake",
  "cunt" because of "Scunthorpe", "leiche" because of "vergleichen",
  "nackt" because of "Nacktschnecke", "arier" because of "variieren",
  "schlampe" because of "Tischlampe", "pisser" because of "Tapisserie",
  "rapist" because of "therapist", "toeten" because of "Toten" and
  "Totenkopf" (its umlaut dropped), "erhaengen" and "erhaengt" because of
  "verhangen", "überhängend" and "er hängt", "vergasen" and "vergast"
  because their near misses are "verglasen" and "verglast";
* left out: "vögeln" (also "with birds"), "dick" (German: thick), "geil"
  (kids' slang for "great"), "schwul", "behindert" ("behindertengerechter
  Spielplatz"), "opfer" (memorials), "jude"/"juden" (Olpe's Jewish history is a
  museum topic; the hateful compounds are listed instead), "galgen" and
  "scheiterhaufen" (historic place names and the witch trials), "tod"
  ("Todesstern"), "blut" ("Blutbuche"), "depp" (reads "dep", like "deep"),
  "boobs" ("bobs", like "Bobsbahn"), "ass", "cum", "sau", "schwein";
* numbers: "88", "18" and "HH" alone are left out (house numbers, ages, years,
  Hamburg's number plates: "Haus Nr. 88", "Olpe 1888" must pass); the codes
  are listed where they are unambiguous ("1488", "14 88", "14 words", "hh 88",
  "heil 88"), and a number on its own is never read as letters.

A doubled letter in a term must be doubled in the text ("nigger" is not in
"weniger"; only "ss" also matches "s", as "ß" is often misspelt), while a
single letter may be doubled ("Hittler"); check a new term against harmless
words that differ only in doubled letters.

Extremist terms cover symbols and slogans, not history: a wish may show
Olpe's past, but not glorify the Nazi regime or build its camps ("KZ",
"Auschwitz" and "Konzentrationslager" are refused as wishes even where a
visitor means a memorial: the engine would paint a camp). "Wehrmacht",
"Gestapo", "SS" alone, "Bunker", "Lager" and "Führer" (a guide) stay allowed;
"Führerbunker", "SS-Runen" and the slogans are not, nor are the regime's own
words for its crimes, rallies and organisations ("Reichsparteitag",
"Kristallnacht", "Judenstern", "Gauleiter"): a visitor wishing for them wishes
for the thing itself, while a memorial has words of its own
("Reichspogromnacht", "Gedenkstein", "Stolperstein"), which pass.

The swastika characters are listed as symbols, both orientations: 卐 and 卍.
卍 (manji) also marks Buddhist temples on Japanese maps, but visitors here
type wishes for a map of Olpe, not Japanese map legends; a temple can be
wished for in words ("ein buddhistischer Tempel"), the two glyphs are
mirror images that a visitor can swap freely, and German law (§ 86a StGB)
also covers a symbol that can be mistaken for a banned one, as a mirrored
swastika can. Curators who need 卍 for an exhibition can deactivate that one
term in the admin. The Wolfsangel is refused although it is also a heraldic
charge: as a wish, its far-right use is the likelier one.
"""

from __future__ import annotations

INSULT = "insult"
SEXUAL = "sexual"
VIOLENCE = "violence"
EXTREMISM = "extremism"
OTHER = "other"

# (term, whole_word_only) per category.
_INSULTS = [
    ("arsch", True),
    ("arschloch", False),
    ("arschloecher", False),
    ("arschgesicht", False),
    ("hurensohn", False),
    ("hurensoehne", False),
    ("hure", False),
    ("fotze", False),
    ("wichser", False),
    ("wixer", False),
    ("schlampe", True),
    ("schlampen", True),
    ("nutte", False),
    ("missgeburt", False),
    ("bastard", True),
    ("drecksau", False),
    ("drecksack", False),
    ("idiot", False),
    ("trottel", False),
    ("spast", True),
    ("spasti", True),
    ("spasten", True),
    ("mongo", True),
    ("schwuchtel", False),
    ("transe", True),
    ("kanake", False),
    ("kanacke", False),
    ("neger", False),
    ("zigeuner", False),
    ("scheisse", False),
    ("scheiss", False),
    ("kacke", False),
    ("pisser", True),
    ("fresse", True),
    ("verpiss", False),
    ("schwanzlutscher", False),
    ("volksverraeter", False),
    ("fuck", False),
    ("shit", True),
    ("shitty", True),
    ("bullshit", False),
    ("bitch", False),
    ("asshole", False),
    ("arsehole", False),
    ("dickhead", False),
    ("wanker", False),
    ("twat", True),
    ("cunt", True),
    ("cunts", True),
    ("whore", False),
    ("slut", False),
    ("retard", True),
    ("retarded", True),
    ("faggot", False),
    ("fag", True),
    ("fags", True),
    ("nigger", False),
    ("nigga", False),
    ("spic", True),
    ("chink", True),
    ("kike", True),
    ("tranny", False),
    ("moron", True),
    ("dumbass", False),
]

_SEXUAL = [
    ("fick", False),
    ("muschi", True),
    ("pimmel", False),
    ("schwanz", True),
    ("penis", False),
    ("vagina", False),
    ("titten", False),
    ("brueste", True),
    ("nackt", True),
    ("nackte", True),
    ("nackten", True),
    ("nacktbild", False),
    ("bumsen", True),
    ("wichsen", True),
    ("porno", False),
    ("porn", True),
    ("sex", True),
    ("sexbild", False),
    ("sexshop", False),
    ("erotik", False),
    ("erotisch", False),
    ("erotic", False),
    ("orgasm", False),
    ("masturb", False),
    ("selbstbefriedigung", False),
    ("bordell", False),
    ("prostitu", False),
    ("stripper", False),
    ("striptease", False),
    ("strip club", False),
    ("blowjob", False),
    ("handjob", False),
    ("dildo", False),
    ("hentai", False),
    ("nude", True),
    ("nudes", True),
    ("naked", True),
    ("tits", True),
    ("titties", False),
    ("pussy", True),
    ("cock", True),
    ("horny", True),
    ("brothel", False),
    ("bdsm", False),
    ("kinderporno", False),
    ("child porn", False),
]

_VIOLENCE = [
    ("mord", True),
    ("morde", True),
    ("morden", True),
    ("ermord", False),
    ("massenmord", False),
    ("voelkermord", False),
    ("moerder", False),
    ("mordanschlag", False),
    ("toeten", True),
    ("toetet", False),
    ("toetung", False),
    ("umbringen", False),
    ("umgebracht", False),
    ("erschiessen", False),
    ("erschossen", False),
    ("erstechen", False),
    ("erstochen", False),
    ("abknallen", False),
    ("abschlachten", False),
    ("erhaengen", True),
    ("erhaengt", True),
    ("erhaengte", True),
    ("erhaengten", True),
    ("enthaupt", False),
    ("hinricht", False),
    ("lynchen", False),
    ("folter", False),
    ("massaker", False),
    ("blutbad", False),
    ("gemetzel", False),
    ("amoklauf", False),
    ("amok", True),
    ("terror", False),
    ("bombenanschlag", False),
    ("attentat", False),
    ("selbstmord", False),
    ("suizid", False),
    ("genozid", False),
    ("ethnische saeuberung", False),
    ("vergewaltig", False),
    ("kinderschaender", False),
    ("kindesmissbrauch", False),
    ("missbrauch", False),
    ("paedophil", False),
    ("leiche", True),
    ("leichen", True),
    ("leichenberg", False),
    ("kill", True),
    ("kills", True),
    ("killing", True),
    ("killed", True),
    ("murder", False),
    ("massacre", False),
    ("genocide", False),
    ("behead", False),
    ("decapitat", False),
    ("torture", False),
    ("lynch", True),
    ("lynching", False),
    ("school shooting", False),
    ("mass shooting", False),
    ("suicide", False),
    ("rape", True),
    ("raped", True),
    ("rapist", True),
    ("rapists", True),
    ("molest", False),
    ("pedophil", False),
    ("child abuse", False),
    ("corpse", False),
    ("dead bodies", False),
    ("ethnic cleansing", False),
]

_EXTREMISM = [
    ("nazi", False),
    ("hitler", False),
    ("heil hitler", False),
    ("sieg heil", False),
    ("hakenkreuz", False),
    ("swastika", False),
    ("nsdap", False),
    ("reichskriegsflagge", False),
    ("reichsbuerger", False),
    ("ss totenkopf", True),
    ("waffen ss", True),
    ("gaskammer", False),
    ("vergasen", True),  # whole words: near misses would reach "verglasen"
    ("vergast", True),
    ("vergaste", True),
    ("vergasten", True),
    ("judenhass", False),
    ("judensau", False),
    ("judenschwein", False),
    ("saujude", False),
    ("juden raus", False),
    ("auslaender raus", False),
    ("deutschland den deutschen", False),
    ("auschwitzluege", False),
    ("holocaustluege", False),
    ("herrenrasse", False),
    ("rassenkrieg", False),
    ("rassenreinheit", False),
    ("untermensch", False),
    ("umvolkung", False),
    ("arier", True),
    ("arisch", True),
    ("white power", False),
    ("white pride", False),
    ("white supremac", False),
    ("blood and honour", False),
    ("blut und ehre", False),
    ("master race", False),
    ("aryan", True),
    ("gas chamber", False),
    ("gas the jews", False),
    ("ku klux klan", False),
    ("combat 18", False),
    ("1488", True),
    ("islamischer staat", False),
    ("islamic state", False),
    ("isis", True),
    ("al qaida", False),
    ("al qaeda", False),
    ("al kaida", False),
    ("jihad", False),
    ("dschihad", False),
    # Symbols: the swastika in both orientations (卐, 卍: see the module docstring)
    # and the Tibetan svasti signs.
    ("\u5350", False),  # 卐
    ("\u534d", False),  # 卍
    ("\u0fd5", False),  # ࿕
    ("\u0fd6", False),  # ࿖
    ("\u0fd7", False),  # ࿗
    ("\u0fd8", False),  # ࿘
    ("ss rune", False),
    ("sig rune", False),
    ("siegrune", False),
    ("schwarze sonne", True),  # not "schwarze Sonnenschirme"
    ("wolfsangel", False),
    ("fuehrerbunker", False),
    ("mein kampf", True),  # not "mein Kampfsport"
    ("arbeit macht frei", False),
    ("blut und boden", False),
    ("deutschland erwache", False),
    ("ein reich ein fuehrer", False),
    ("endloesung", False),
    ("rassenschande", False),
    ("kz", True),
    ("konzentrationslager", False),
    ("vernichtungslager", False),
    ("auschwitz", False),
    ("14 88", True),
    ("14 words", True),
    ("hh 88", True),
    ("88 hh", True),
    ("heil 88", True),
    # Added in museum 0004: a spelling too short for near misses, and the Nazi
    # regime's own terms, slogans and organisations a curator would expect.
    ("natzi", False),
    ("reichsparteitag", False),
    ("endsieg", False),
    ("judenstern", False),
    ("judenfrei", False),
    ("judenrein", False),
    ("kristallnacht", False),  # not "Reichspogromnacht", the memorial's word
    ("herrenmensch", False),
    ("rassenhygiene", False),
    ("rassenlehre", False),
    ("volksgemeinschaft", False),
    ("volk ohne raum", False),
    ("lebensraum im osten", False),  # not "Lebensraum" (a habitat)
    ("meine ehre heisst treue", False),
    ("fuehrerhauptquartier", False),
    ("wolfsschanze", False),
    ("bund deutscher maedel", False),
    ("leibstandarte", False),
    ("einsatzgruppen", False),
    ("gauleiter", False),
    ("reichsfuehrer", False),
    ("horst wessel", False),
    ("rudolf hess", True),
    ("zyklon b", True),  # not "Zyklon" (a storm) nor "Zyklon Bilder"
    ("todeslager", False),
]

SHIPPED_TERMS: tuple[tuple[str, str, bool], ...] = tuple(
    (term, category, whole_word_only)
    for category, terms in (
        (INSULT, _INSULTS),
        (SEXUAL, _SEXUAL),
        (VIOLENCE, _VIOLENCE),
        (EXTREMISM, _EXTREMISM),
    )
    for term, whole_word_only in terms
)
"""(term, category, whole_word_only) for every shipped term."""


def seed(blocked_term_model) -> int:
    """Add the shipped terms that are missing; never touches a curator's rows.

    Takes the model as an argument so a migration can pass its historical model.
    Returns how many terms were added.
    """
    existing = set(blocked_term_model.objects.values_list("term", flat=True))
    missing = [
        blocked_term_model(term=term, category=category, whole_word_only=whole_word_only)
        for term, category, whole_word_only in SHIPPED_TERMS
        if term not in existing
    ]
    blocked_term_model.objects.bulk_create(missing)
    return len(missing)
