"""bench.harness.CpuMeter: a process tree's CPU, and what the rest of the machine used meanwhile."""

import subprocess
import sys
import time

from bench.harness import CpuMeter

SPIN = "while True: pass"
SLEEP = "import time; time.sleep(30)"


def metered(code: str, neighbour: str | None = None) -> CpuMeter:
    """A 1.5 s CpuMeter of a process running `code`, with another one running `neighbour` beside it."""
    procs = [subprocess.Popen([sys.executable, "-c", c]) for c in (code, neighbour) if c]
    try:
        with CpuMeter(procs[0].pid) as cpu:
            time.sleep(1.5)
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)
    return cpu


def test_a_busy_neighbour_shows_as_others_and_not_as_the_tree() -> None:
    cpu = metered(SLEEP, neighbour=SPIN)
    assert cpu.seconds < 0.3
    assert cpu.others(client_s=0.0) > 0.5  # one spinning core, minus what a loaded machine takes from it


def test_the_tree_own_cpu_is_not_counted_as_others() -> None:
    cpu = metered(SPIN)
    assert cpu.mean > 0.5
    assert cpu.others(client_s=0.0) < cpu.mean
