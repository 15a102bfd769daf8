"""bench.harness.CpuMeter: a process tree's CPU, and what the rest of the machine used meanwhile."""

import subprocess
import sys
import time

from bench.harness import CpuMeter

SPIN = "import time\nend = time.monotonic() + 2.0\nwhile time.monotonic() < end: pass\n"


def test_a_busy_neighbour_shows_as_others_and_not_as_the_tree() -> None:
    # The metered process sleeps; another one spins for 2 s: the meter puts it in `others`.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    neighbour = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        with CpuMeter(sleeper.pid) as cpu:
            time.sleep(1.5)
    finally:
        neighbour.wait(timeout=30)
        sleeper.kill()
        sleeper.wait(timeout=30)
    assert cpu.seconds < 0.3
    assert cpu.others(client_s=0.0) > 0.5  # one spinning core, minus what a loaded machine takes from it


def test_the_tree_own_cpu_is_not_counted_as_others() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        with CpuMeter(spinner.pid) as cpu:
            time.sleep(1.5)
    finally:
        spinner.wait(timeout=30)
    assert cpu.mean > 0.5
    assert cpu.others(client_s=0.0) < cpu.mean
