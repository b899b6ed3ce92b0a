"""Print `export` lines that give uv the package sources pip is configured with here.

uv does not read pip's configuration files. On machines whose pip is set up with
local wheel folders, extra indexes or a constraints file (`pip config list`),
`scripts/install` evaluates this output so that uv installs from the same places
and under the same caps as pip would.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

# pip's option -> (uv's environment variable, how uv separates several values)
OPTIONS = {
    "find-links": ("UV_FIND_LINKS", ","),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "index-url": ("UV_INDEX_URL", " "),
    "constraint": ("UV_CONSTRAINT", " "),
    "default-timeout": ("UV_HTTP_TIMEOUT", " "),
}


def pip_config() -> dict[str, list[str]]:
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True, text=True, check=False,
    ).stdout
    found: dict[str, list[str]] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in OPTIONS:
            values = shlex.split(value.strip().strip("'\""))
            found.setdefault(option, [])
            found[option] += [item for item in values if item not in found[option]]
    return found


def main() -> None:
    config = pip_config()
    for option, values in config.items():
        variable, separator = OPTIONS[option]
        print(f"export {variable}={shlex.quote(separator.join(values))}")
    if "extra-index-url" in config or "find-links" in config:
        # pip takes the best version from every source; uv by default the first index's.
        print("export UV_INDEX_STRATEGY=unsafe-best-match")


if __name__ == "__main__":
    main()
