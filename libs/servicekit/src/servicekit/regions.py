"""GB/T 2260 administrative divisions: validation, names and the hierarchy regulators act on.

The shipped table holds every province, all of Qinghai (63) down to county level and so every
county-level unit of Haixi (6328); the structure holds the whole country, so adding rows is all a
new region needs. A region's parent follows from its code: county 632801 -> prefecture 632800 ->
province 630000. Municipal districts directly under a province-level city have no prefecture row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources


class Level(StrEnum):
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"


@dataclass(frozen=True)
class Region:
    code: str
    name: str

    @property
    def level(self) -> Level:
        if self.code.endswith("0000"):
            return Level.PROVINCE
        if self.code.endswith("00"):
            return Level.PREFECTURE
        return Level.COUNTY


@cache
def _table() -> dict[str, Region]:
    text = resources.files("servicekit.data").joinpath("regions.csv").read_text(encoding="utf-8")
    return {row["code"]: Region(row["code"], row["name"]) for row in csv.DictReader(text.splitlines())}


def get(code: str) -> Region | None:
    return _table().get(code)


def all_regions() -> list[Region]:
    """Every region of the table, ordered by code."""
    return sorted(_table().values(), key=lambda region: region.code)


def is_known(code: str) -> bool:
    return code in _table()


def parent(code: str) -> Region | None:
    """The next region up that the table holds (a county's prefecture, else its province)."""
    for candidate in (code[:4] + "00", code[:2] + "0000"):
        if candidate != code and candidate in _table() and _below(code, candidate):
            return _table()[candidate]
    return None


def ancestors(code: str) -> list[Region]:
    """From the nearest parent up to the province."""
    chain: list[Region] = []
    current = parent(code)
    while current is not None:
        chain.append(current)
        current = parent(current.code)
    return chain


def prefix(code: str) -> str:
    """The code prefix shared by a region and everything below it: 630000 -> 63, 632800 -> 6328."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def _below(code: str, ancestor: str) -> bool:
    return code != ancestor and code.startswith(prefix(ancestor))


def contains(ancestor: str, code: str) -> bool:
    """True when `code` is `ancestor` itself or lies below it."""
    return code == ancestor or _below(code, ancestor)


def children(code: str) -> list[Region]:
    """The regions directly below `code` in the table."""
    return [region for region in _table().values() if (found := parent(region.code)) and found.code == code]
