"""A secret key that is generated on the first run and then kept.

A fresh museum PC needs no manual step, and no key ever lands in the repository.
"""

import os
from pathlib import Path

from django.core.management.utils import get_random_secret_key


def load_or_create_secret_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = get_random_secret_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: when two processes start at once, exactly one writes; the other reads.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
