"""The real CFPB complaint records committed under data/cfpb/, for replay tests and benchmarks.

The file is found in the checkout and read only if its SHA-256 is the one recorded in data/cfpb/README.md: the
figures the replay test expects, and the benchmarks' comparisons between runs, hold for these exact rows.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

from servicekit.testing.infra import REPO_ROOT

CFPB_CSV = REPO_ROOT / "data" / "cfpb" / "cfpb_complaints_combined.csv.gz"
CFPB_SHA256 = "4d19c543ff1e791d40cc81ceba5d2ba8bc029334c89b472fd46c40415e39e61d"


def verify(path: Path = CFPB_CSV, expected: str = CFPB_SHA256) -> None:
    """Refuse a missing or altered file (a truncated copy, a Git LFS pointer, an edited row)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the CFPB records are missing from the checkout (see data/cfpb/README.md)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ValueError(f"{path}: SHA-256 is {digest}, expected {expected} (data/cfpb/README.md); the file is "
                         "damaged or not the committed one (a Git LFS pointer?)")


def rows(limit: int | None = None, path: Path = CFPB_CSV) -> Iterator[dict[str, str]]:
    """The file's rows in file order (the first `limit` of them), as dicts keyed by the CSV header."""
    verify(path)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        yield from itertools.islice(csv.DictReader(handle), limit)
