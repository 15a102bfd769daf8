"""report.html opens in a real headless Chromium: it renders, draws its plots, logs no console
error and fetches nothing (the network is switched off for the browser)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mockclaude.processes import mock_server
from tests.test_replay_capacity import FAST, replay
from tests.test_replay_units import write_fixture

pytestmark = pytest.mark.timeout(240)
CHROMIUM = shutil.which("chromium")


def render(page: Path, screenshot: Path) -> tuple[str, str]:
    """Open `page` in headless Chromium with no network: (the DOM after its scripts ran, console output)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (./dev test installs it with apt-get when it may)")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", "--enable-logging=stderr", "--v=0",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1200,3000"]  # fmt: skip
    with tempfile.TemporaryDirectory() as profile:
        shot = subprocess.run([*flags, f"--user-data-dir={profile}", f"--screenshot={screenshot}", page.as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([*flags, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert shot.returncode == 0 and dom.returncode == 0, shot.stderr[-2000:] + dom.stderr[-2000:]
    return dom.stdout, shot.stderr + dom.stderr


def console_errors(log: str) -> list[str]:
    """Chromium's log lines for the page's console messages and uncaught exceptions."""
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_console_errors_are_caught_by_this_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); missing();</script></body></html>")
    _, log = render(bad, tmp_path / "bad.png")
    found = console_errors(log)
    assert any('"boom"' in x for x in found) and any("missing is not defined" in x for x in found), log


def test_the_report_of_a_real_run_renders_in_headless_chromium(tmp_path: Path) -> None:
    fx = write_fixture(tmp_path / "f.jsonl", count=4, stream=True)
    with mock_server(*FAST, "--fault", "500:0.2") as mock:
        run = replay(mock.url, fx, "-u", "2", "-r", "2", "-t", "60s", "--max-requests", "30", "--think-time", "0",
                     "--report", str(tmp_path / "r"), "--slo", "ttft_p95<2s,error_rate<1%")  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr  # ~20% 500s break error_rate<1%
    page = tmp_path / "r" / "report.html"
    source = page.read_text()
    assert "<script src=" not in source and "cdn.plot.ly" not in source.split("</script>")[-1]
    dom, log = render(page, tmp_path / "report.png")
    assert console_errors(log) == [], console_errors(log)
    assert dom.count('class="main-svg"') >= 4, "the plots were not drawn"
    for text in ("Service-level objectives", "error_rate&lt;1%", "FAIL", "Latency CDF", "Throughput over time",
                 "server_error", "Failures per second, by class", "Rate-limit tier needed",
                 "Claude Sonnet 4.x", "Prompt cache and cost", "What the same traffic would cost"):  # fmt: skip
        assert text in dom, text
    assert (tmp_path / "report.png").stat().st_size > 20_000  # a drawn page, not a blank one
