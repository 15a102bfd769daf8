"""mitmproxy addon: pass Messages API traffic through untouched and record it as anonymized fixtures.

Standalone use (any mitmproxy mode: reverse, regular, upstream)::

    mitmdump -s recorder/addon.py --mode reverse:https://api.anthropic.com@8080 \\
        --set mockclaude_out=fixtures/prod.jsonl --set mockclaude_anonymize=pii

Every response is streamed (`flow.response.stream` is a tee that only notes the time of each
chunk), so the client gets each SSE event as soon as the upstream sends it. Building the record
(decompression, SSE parsing, token estimates, anonymization) and writing it happen in a separate
writer process (recorder.writer_process); a failure there is logged and never touches the proxied
exchange, and a writer that dies is restarted (recorder.writer_supervisor), what it lost counted.
"""

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Loaded by path (`mitmdump -s recorder/addon.py`): make the project importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mitmproxy import ctx, exceptions, http

from mockclaude.fixtures.appender import open_for_recording
from mockclaude.fixtures.capture import Capture, is_recorded
from mockclaude.fixtures.format import ANONYMIZATION_MODES
from recorder.connection_log import show_connections
from recorder.writer_process import WriterConfig
from recorder.writer_supervisor import SupervisedWriter

log = logging.getLogger("mockclaude.recorder")
_META = "mockclaude_capture"


def _request_body(flow: http.HTTPFlow) -> bytes:
    """The request body as the client sent it, content-encoding undone (b"" if unreadable)."""
    try:
        return flow.request.get_content(strict=False) or b""
    except Exception:
        log.exception("mockclaude recorder: could not read the request body")
        return b""


class Recorder:
    """The addon: tees recorded flows and hands finished captures to the writer process."""

    def __init__(self) -> None:
        self._writer: SupervisedWriter | None = None

    def load(self, loader: Any) -> None:
        """Declare the addon's options."""
        loader.add_option("mockclaude_out", str, "", "Fixture file to append recorded exchanges to.")
        loader.add_option("mockclaude_anonymize", str, "pii", "Anonymization: off, pii or shape.")
        loader.add_option("mockclaude_key_file", str, "", "Session secret for pseudonyms (default: <out>.key).")
        loader.add_option("mockclaude_fsync", bool, False, "fsync the fixture after every exchange.")
        loader.add_option("mockclaude_ready", str, "", "Line to print once the proxy listens ({url} = its URL).")
        loader.add_option(
            "mockclaude_connection_log",
            bool,
            True,
            "Log mitmproxy's per-connection lines (client/server connect, streaming); off saves proxy time.",
        )

    def configure(self, updated: set[str]) -> None:
        """Open the fixture and the anonymizer when the options are set."""
        opts = ctx.options
        if "mockclaude_connection_log" in updated:
            show_connections(opts.mockclaude_connection_log)
        if not updated & {"mockclaude_out", "mockclaude_anonymize", "mockclaude_key_file", "mockclaude_fsync"}:
            return
        mode = opts.mockclaude_anonymize
        if mode not in ANONYMIZATION_MODES:
            raise exceptions.OptionsError(
                f"mockclaude_anonymize must be one of {', '.join(ANONYMIZATION_MODES)}, not {mode!r}"
            )
        if not opts.mockclaude_out:
            log.warning("mockclaude recorder: no --set mockclaude_out=FILE given, nothing will be recorded")
            return
        try:
            self._open(
                Path(opts.mockclaude_out), opts.mockclaude_anonymize, opts.mockclaude_key_file, opts.mockclaude_fsync
            )
        except OSError as exc:
            # A write error (full disk) names no file: say which one cannot be written.
            out = opts.mockclaude_out
            raise exceptions.OptionsError(f"mockclaude recorder: cannot write {out}: {exc.strerror or exc}") from exc
        except (ValueError, RuntimeError) as exc:
            raise exceptions.OptionsError(f"mockclaude recorder: {exc}") from exc

    def _open(self, out: Path, mode: str, key_file: str, fsync: bool) -> None:
        self._stop_writer()
        opened = open_for_recording(out, mode, key_file, "recorded by the mockclaude mitmproxy addon")
        config = WriterConfig(str(out), mode, opened.key, opened.header, fsync, opened.session_start, opened.first_seq)
        self._writer = SupervisedWriter(config)
        log.info("mockclaude recorder: writing %s (anonymize=%s)", out, mode)

    def running(self) -> None:
        """Print the ready line with the address the proxy really listens on (port 0 works)."""
        template = ctx.options.mockclaude_ready
        if not template:
            return
        server = ctx.master.addons.get("proxyserver")
        addrs = server.listen_addrs() if server is not None else []
        port = next((a[1] for a in addrs), None)
        print(template.format(url=f"http://127.0.0.1:{port}", port=port), flush=True)

    # -- proxy hooks: cheap, and never raise into mitmproxy --------------------------------
    # No requestheaders/request hooks: those run before the request goes upstream, so anything
    # they do delays the answer. What they would note is still on the flow when it ends.
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """Stream every response; tee the recorded ones."""
        try:
            cap = self._capture(flow)
            if cap is None:
                flow.response.stream = True
                return
            cap.t_headers = time.monotonic()
            cap.status = flow.response.status_code
            cap.response_headers = list(flow.response.headers.items(multi=True))
            flow.metadata[_META] = cap
            flow.response.stream = cap.tee
        except Exception:
            flow.response.stream = True
            log.exception("mockclaude recorder: responseheaders failed; exchange not recorded")

    def _capture(self, flow: http.HTTPFlow) -> Capture | None:
        """A new capture of a recorded endpoint's flow (None for other paths or with no writer)."""
        if self._writer is None or not is_recorded(flow.request.path):
            return None
        now_wall, now = time.time(), time.monotonic()
        started = flow.request.timestamp_start
        return Capture(
            method=flow.request.method,
            path=flow.request.path,
            request_headers=list(flow.request.headers.items(multi=True)),
            # The request began when its first byte arrived: its wall time, on the monotonic clock.
            t0=now - max(0.0, now_wall - started),
            started_wall=started,
        )

    def response(self, flow: http.HTTPFlow) -> None:
        """The exchange finished: queue it for the writer process."""
        self._finish(flow, None)

    def error(self, flow: http.HTTPFlow) -> None:
        """The exchange failed (upstream refused, reset mid-stream, client gone): record what we saw."""
        self._finish(flow, flow.error.msg if flow.error else "unknown error")

    def _finish(self, flow: http.HTTPFlow, error: str | None) -> None:
        try:
            # No capture yet when no response headers came (upstream refused, client gone early)
            # or when mitmproxy or another addon made the response.
            cap: Capture | None = flow.metadata.pop(_META, None) or self._capture(flow)
            if cap is None:
                return
            cap.t_end = time.monotonic()
            cap.error = error
            cap.request_body = _request_body(flow)
            if cap.status is None and flow.response is not None and error is None:
                # A response made by mitmproxy or another addon (no responseheaders tee).
                cap.status = flow.response.status_code
                cap.response_headers = list(flow.response.headers.items(multi=True))
                cap.chunks = [(cap.t_end, flow.response.raw_content or b"")]
            writer = self._writer
            if writer is None:
                return
            try:
                # Queue it after mitmproxy has sent the end of the response, which comes first.
                asyncio.get_running_loop().call_soon(writer.submit, cap)
            except RuntimeError:  # no event loop (driven from outside mitmproxy)
                writer.submit(cap)
        except Exception:
            log.exception("mockclaude recorder: could not queue %s %s", flow.request.method, flow.request.path)

    def done(self) -> None:
        """Let the writer finish every queued exchange, then stop it."""
        self._stop_writer()
        show_connections(True)

    def _stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None


addons = [Recorder()]
