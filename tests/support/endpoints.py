"""Funds' push endpoints on loopback, served by threads: healthy, failing or trickling.

``POST /ok/<fund>`` verifies nothing but the seq order, takes ``delay_s``, and answers the
fund's signed receipt; ``/fail/<fund>`` answers 500; ``/slow/<fund>`` answers 200 at once,
then trickles its body a byte every ``trickle_every_s`` for ``trickle_for_s``, so that
no single read ever waits long while the whole answer takes long. Every request is
recorded with its time and its ``traceparent`` header; the most requests ever in flight
at once per fund is kept.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self

from connectors import wire
from tests.support.jose import signed_receipt

if TYPE_CHECKING:
    from gateway.keys import GatewayKeys
    from tests.support.actors import Client


@dataclass(frozen=True)
class Received:
    fund_id: str
    seq: int
    at: float  # time.monotonic() when the request's body was read
    traceparent: str | None = None  # the request's traceparent header


class Endpoints:
    """The server, in a thread from ``with`` to the block's end."""

    def __init__(
        self,
        keys: GatewayKeys,
        *,
        delay_s: float = 0.0,
        trickle_every_s: float = 0.1,
        trickle_for_s: float = 5.0,
    ) -> None:
        self.keys = keys
        self.delay_s = delay_s
        self.trickle_every_s = trickle_every_s
        self.trickle_for_s = trickle_for_s
        self.funds: dict[str, Client] = {}
        self.received: list[Received] = []
        self.in_flight: defaultdict[str, int] = defaultdict(int)
        self.most_in_flight: defaultdict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, kind: str, fund_id: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{kind}/{fund_id}"

    def seqs(self, fund_id: str) -> list[int]:
        with self.lock:
            return [r.seq for r in self.received if r.fund_id == fund_id]

    def times(self, fund_id: str) -> dict[int, float]:
        """When each seq was first received."""
        with self.lock:
            first: dict[int, float] = {}
            for r in self.received:
                if r.fund_id == fund_id:
                    first.setdefault(r.seq, r.at)
            return first

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _handler(endpoints: Endpoints) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_POST(self) -> None:
            content = self.rfile.read(int(self.headers["Content-Length"]))
            _, kind, fund_id = self.path.split("/", 2)
            seq = int(self.headers[wire.BATCH_SEQ_HEADER])
            with endpoints.lock:
                endpoints.received.append(
                    Received(fund_id, seq, time.monotonic(), self.headers.get("traceparent"))
                )
                endpoints.in_flight[fund_id] += 1
                endpoints.most_in_flight[fund_id] = max(
                    endpoints.most_in_flight[fund_id], endpoints.in_flight[fund_id]
                )
            try:
                getattr(self, f"answer_{kind}")(fund_id, content)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the gateway gave up on this attempt
            finally:
                with endpoints.lock:
                    endpoints.in_flight[fund_id] -= 1

        def answer_ok(self, fund_id: str, content: bytes) -> None:
            time.sleep(endpoints.delay_s)
            receipt = signed_receipt(endpoints.funds[fund_id], content, endpoints.keys)
            self.send_response(200)
            self.send_header("Content-Type", wire.JOSE_MEDIA_TYPE)
            self.send_header("Content-Length", str(len(receipt)))
            self.end_headers()
            self.wfile.write(receipt)

        def answer_fail(self, _fund_id: str, _content: bytes) -> None:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def answer_slow(self, _fund_id: str, _content: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", wire.JOSE_MEDIA_TYPE)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.flush()
            until = time.monotonic() + endpoints.trickle_for_s
            while time.monotonic() < until and not endpoints.stop.is_set():
                self.wfile.write(b".")
                self.wfile.flush()
                time.sleep(endpoints.trickle_every_s)

    return Handler
