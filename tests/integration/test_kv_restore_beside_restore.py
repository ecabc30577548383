"""A raspy-kv restore into a data dir that another restore is writing: refused,
naming that restore as what writes it (it said "stop raspyd", which was not there).

The first restore is held in its second pass deterministically (restore_writing's
`held`: its terminal's output stopped), the data dir's lock held."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.kv_cli import make_store, records, run, write_dump
from support.restore_writing import restore_writing

from raspy.storage.dump import Header
from raspy.storage.store import Table


@pytest.mark.timeout(60)
def test_a_restore_beside_another_restore_names_that_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "b"
    make_store(target)
    before = records(target)
    small = write_dump(tmp_path / "small.dump", Header(1, "now", (Table.KV,)), ())
    with restore_writing(tmp_path, target, "--replace", held=True) as first:
        status, out, err = run(
            ["restore", "--data-dir", str(target), str(small)], capsys
        )
        assert first.poll() is None, "the first restore ended: nothing held"
        assert (status, out, err) == (
            1,
            "",
            f"raspy-kv restore: data dir {target} is in use by another process"
            f" (pid {first.pid}): another raspy-kv restore is writing it; let that"
            " restore end, then restore again\n",
        )
    assert records(target) == before  # the first one, killed, wrote nothing either
