"""The GB/T 2260 table and the hierarchy regulators act on."""

from __future__ import annotations

import pytest

from servicekit import regions
from servicekit.auth import Audience, Principal, Role

HAIXI_COUNTY_LEVEL = {"632801", "632802", "632803", "632821", "632822", "632823", "632857"}


def test_every_county_level_unit_of_haixi_is_known() -> None:
    assert {region.code for region in regions.children("632800")} == HAIXI_COUNTY_LEVEL
    assert regions.get("632801") == regions.Region("632801", "格尔木市")


def test_every_prefecture_of_qinghai_is_known() -> None:
    prefectures = {region.code for region in regions.children("630000")}
    assert prefectures == {"630100", "630200", "632200", "632300", "632500", "632600", "632700", "632800"}


@pytest.mark.parametrize(
    ("code", "level"),
    [("630000", regions.Level.PROVINCE), ("632800", regions.Level.PREFECTURE), ("632801", regions.Level.COUNTY)],
)
def test_level_follows_from_the_code(code: str, level: regions.Level) -> None:
    region = regions.get(code)
    assert region is not None
    assert region.level == level


def test_ancestors_run_up_to_the_province() -> None:
    assert [region.code for region in regions.ancestors("632857")] == ["632800", "630000"]
    assert regions.ancestors("630000") == []


@pytest.mark.parametrize(
    ("staff_region", "case_region", "governs"),
    [
        ("632801", "632801", True),
        ("632800", "632801", True),
        ("630000", "632857", True),
        ("632802", "632801", False),
        ("632801", "632800", False),
        ("632800", "632701", False),
    ],
)
def test_staff_govern_their_region_and_below(staff_region: str, case_region: str, governs: bool) -> None:
    staff = Principal(sub="s", aud=Audience.REGULATOR, roles=frozenset({Role.REGULATOR}), region=staff_region)
    assert staff.governs(case_region) is governs


def test_unknown_codes_are_not_known() -> None:
    assert not regions.is_known("639999")
    assert not regions.is_known("63280")
