"""The committed CFPB records: found in the checkout, read only when their checksum is the recorded one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from servicekit.testing import cfpb


def test_the_committed_file_passes_its_checksum_and_reads_in_file_order() -> None:
    cfpb.verify()
    first = list(cfpb.rows(3))
    assert len(first) == 3
    assert {"Complaint ID", "Company", "Company response to consumer", "source_repo"} <= first[0].keys()
    assert first == list(cfpb.rows(3))


def test_an_altered_copy_is_refused_naming_both_digests(tmp_path: Path) -> None:
    copy = tmp_path / cfpb.CFPB_CSV.name
    shutil.copyfile(cfpb.CFPB_CSV, copy)
    with copy.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ValueError, match=cfpb.CFPB_SHA256) as refused:
        next(cfpb.rows(1, path=copy))
    assert "SHA-256 is " in str(refused.value)


def test_a_missing_file_is_refused_pointing_to_the_data_readme(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape("data/cfpb/README.md")):
        next(cfpb.rows(1, path=tmp_path / "absent.csv.gz"))
