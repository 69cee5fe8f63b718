"""Where the matrices keep what they download and build: never in the repository."""
import os
from pathlib import Path


def cache_dir(name: str, override: str) -> Path:
    """$<override> if set, else <XDG cache>/hbreak-if/<name>."""
    base = os.environ.get(override)
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg, "hbreak-if", name)
