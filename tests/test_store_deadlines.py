"""Time limits on the store, over real loopback sockets: a store that accepts and never answers, one
that sends half a body then stalls, one that closes early. The overall deadline
(MARKETPLACE_TOTAL_TIMEOUT) bounds the whole request, retries included."""

import re
import socket
import threading
import time

import pytest

from conftest import htmx_post
from panel.marketplace.client import StoreClient, StoreError

DEADLINE = 1.0


class BadStore:
    """A loopback TCP server that reads the request, then behaves as told:
    `silent` never answers; `stall` sends headers and half the body, then waits; `close` sends half and hangs up;
    `drip` sends half, then a byte every 0.1 s, so no single read ever times out."""

    def __init__(self, behaviour: str):
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.stopped = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        held = []
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            held.append(conn)
            conn.settimeout(1)
            try:
                conn.recv(65536)
                body = b'{"modules": [' + b" " * 1000
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
                if self.behaviour in ("stall", "close", "drip"):
                    conn.sendall(head + body)
                for _ in range(100 if self.behaviour == "drip" else 0):  # a byte every 0.1 s: never idle long
                    if self.stopped.wait(0.1):
                        break
                    conn.sendall(b" ")
                if self.behaviour == "close":
                    conn.close()
            except OSError:
                pass
        for conn in held:
            conn.close()

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def bad_store(request):
    stores = []

    def start(behaviour):
        stores.append(BadStore(behaviour))
        return stores[-1]

    yield start
    for store in stores:
        store.stop()


def client_for(url, **limits):
    settings = dict(connect_timeout=5, read_timeout=5, total_timeout=DEADLINE, retries=3, backoff=0.05,
                    max_json_bytes=1 << 20)
    settings.update(limits)
    return StoreClient(url, **settings)


def timed(call):
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        call()
    return time.monotonic() - started, str(info.value)


@pytest.mark.parametrize("behaviour", ["silent", "stall", "drip"])
def test_a_store_that_stops_answering_ends_at_the_deadline_with_the_time_message(bad_store, behaviour):
    store = bad_store(behaviour)
    client = client_for(store.url)
    elapsed, message = timed(lambda: client.get_json("api/modules"))
    assert message == "The marketplace did not answer in time."
    assert elapsed < 3 * DEADLINE, elapsed  # read time-out 5 s and 3 retries would be 20 s without the deadline


def test_a_store_that_closes_mid_body_is_reported_as_closed_early(bad_store):
    store = bad_store("close")
    elapsed, message = timed(lambda: client_for(store.url, total_timeout=30).get_json("api/modules"))
    assert message == "The marketplace closed the connection too early."
    assert elapsed < 10


def test_a_stalled_download_is_not_called_a_truncation(bad_store, tmp_path):
    store = bad_store("stall")
    client = client_for(store.url, total_timeout=30, download_timeout=DEADLINE)  # downloads have their own limit
    elapsed, message = timed(lambda: client.download("pkg.zip", tmp_path / "pkg.zip", 1 << 20))
    assert message == "The marketplace did not answer in time."
    assert elapsed < 3 * DEADLINE
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_a_truncated_download_says_so_and_leaves_no_file(bad_store, tmp_path):
    store = bad_store("close")
    _, message = timed(lambda: client_for(store.url, total_timeout=30).download("pkg.zip", tmp_path / "p.zip",
                                                                              1 << 20))
    assert message == "The marketplace closed the connection too early."
    assert list(tmp_path.iterdir()) == []


def test_retries_stay_inside_the_deadline(bad_store):
    """A store that never answers, with many retries allowed: still one deadline, and it did retry."""
    store = bad_store("silent")
    client = client_for(store.url, read_timeout=0.3, retries=20)
    elapsed, message = timed(lambda: client.get_json("api/modules"))
    assert message == "The marketplace did not answer in time."
    assert elapsed < 3 * DEADLINE
    assert store.connections >= 2


def test_refresh_press_against_a_silent_store_answers_within_the_deadline(app, admin_client, bad_store):
    """The Refresh handler itself: over HTTP to a store that accepted and never answered."""
    store = bad_store("silent")
    app.config.update(MARKETPLACE_URL=store.url, MARKETPLACE_TOTAL_TIMEOUT=DEADLINE, MARKETPLACE_READ_TIMEOUT=10,
                      MARKETPLACE_RETRIES=2)
    started = time.monotonic()
    response = htmx_post(admin_client, "/marketplace/refresh")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'data-status="failed"', html)
    assert "did not answer in time" in html
    assert elapsed < 3 * DEADLINE, elapsed
