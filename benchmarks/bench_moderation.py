"""How long the blocklist takes to check a wish, and to compile its regular expression.

Builds a `museum.matcher.Matcher` from the shipped list
(`museum.blocklist_data`, no database needed) and times `find` on wishes of
300 characters (the longest a kiosk allows): a German one with umlauts, an
English one in ASCII, one in mathematical bold letters with Cyrillic
look-alikes (checked in two readings), one with "*" wildcards and hyphens
(four spellings) and a blocked one (the term is looked up after the hit).

Goal: a check well under a millisecond; compiling the matcher (once per
process, and again only when the terms change) well under a second.

    .venv/bin/python benchmarks/bench_moderation.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402

django.setup()

from museum.matcher import Matcher  # noqa: E402
from museum.spelling import spellings  # noqa: E402
from museum.blocklist_data import SHIPPED_TERMS  # noqa: E402

GOAL_CHECK_MS = 1.0
Term = namedtuple("Term", "term category whole_word_only")


def wish(sentence: str, length: int = 300) -> str:
    return (sentence * (length // len(sentence) + 1))[:length]


WISHES = {
    "German": wish("Was wäre, wenn am Biggesee ein Vulkan stünde und die Häuser glühten? "),
    "English": wish("What if a volcano stood by the lake and the old town had a castle? "),
    "look-alikes": wish("𝐖𝐚𝐬 𝐰ä𝐫𝐞, wenn hier ein Sее wäre, mit Вäumen? "),
    "wildcards": wish("Ein S*e mit Olpe-Nord und Olpe-Süd, dazu ein Ha|us am Ufer. "),
    "blocked": wish("Was wäre, wenn hier ein See wäre? ", 280) + " Haken kreuz",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    terms = [Term(*term) for term in SHIPPED_TERMS]
    started = time.perf_counter()
    matcher = Matcher(terms)
    compile_ms = (time.perf_counter() - started) * 1000
    print(f"{len(matcher)} terms compiled in {compile_ms:.0f} ms")

    worst = 0.0
    for name, text in WISHES.items():
        matcher.find(text)  # warm: the first hit compiles its term's own pattern
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(args.rounds // 5):
                matcher.find(text)
            samples.append((time.perf_counter() - started) / (args.rounds // 5) * 1000)
        median = statistics.median(samples)
        worst = max(worst, median)
        found = matcher.find(text)
        print(
            f"{name:12} {len(text)} chars, {len(spellings(text))} spelling(s): "
            f"{median * 1000:6.0f} µs per check"
            + (f" (blocked: {found.term})" if found else "")
        )
    verdict = "met" if worst < GOAL_CHECK_MS else "MISSED"
    print(f"goal: under {GOAL_CHECK_MS:.0f} ms per check: {verdict}")
    return 0 if worst < GOAL_CHECK_MS else 1


if __name__ == "__main__":
    sys.exit(main())
