"""The runner's supervisor against real child processes: a child that dies is restarted after a growing backoff,
and one that keeps crashing is given up on; what it decides is said on the terminal and in the runner's log."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from odr_runner.cli import Say
from odr_runner.credentials import StackSecrets
from odr_runner.stack import Stack, StackConfig
from odr_runner.supervisor import RestartPolicy, Supervisor


async def test_a_child_that_keeps_crashing_is_restarted_with_growing_backoff_then_given_up(
    repo_root: Path, tmp_path: Path,
) -> None:
    # Every start of the gateway runs /bin/false: a process that exits with 1 at once, every time.
    config = StackConfig(repo_root=repo_root, work_dir=tmp_path, secrets=StackSecrets.generate(), python="/bin/false")
    messages: list[str] = []
    stack = Stack(config, report=messages.append)
    supervisor = Supervisor(stack, policy=RestartPolicy(backoff_base=0.05, backoff_max=0.2, give_up_after=4,
                                                        window=60), report=messages.append)
    stack.start_process("gateway")
    deadline = time.monotonic() + 20
    while not supervisor.given_up():
        assert time.monotonic() < deadline, messages
        await supervisor.check()
        await asyncio.sleep(0.02)

    assert supervisor.given_up() == ["gateway"]
    assert supervisor.restarts("gateway") == 3
    delays = [float(found) for message in messages
              for found in re.findall(r"gateway exited unexpectedly with code 1; restarting it in ([\d.]+) s", message)]
    assert delays == [0.05, 0.1, 0.2]
    assert "gateway crashed 4 times within 60 s; giving up on it" in messages[-1]
    assert str(stack.log_path("gateway")) in messages[-1]

    await asyncio.sleep(0.3)
    await supervisor.check()
    assert supervisor.restarts("gateway") == 3, "a child given up on is not started again"
    stack.stop()


def test_the_runner_says_what_it_does_on_the_terminal_and_in_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    say = Say(tmp_path / "logs" / "runner.log")
    say("mediation exited unexpectedly with code -9; restarting it in 0.5 s")
    assert capsys.readouterr().out == "[odr] mediation exited unexpectedly with code -9; restarting it in 0.5 s\n"
    logged = (tmp_path / "logs" / "runner.log").read_text()
    assert logged.endswith(" mediation exited unexpectedly with code -9; restarting it in 0.5 s\n")
