"""HTTP to a marketplace: timeouts, retries with back-off, conditional GET, size caps, same-host redirects only.

No Flask request in here: settings come in as arguments (see `from_config`).
"""

from __future__ import annotations  # `requests.Response` in a signature must not import requests

import contextlib
import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from flask_babel import lazy_gettext as _l

from ..errors import PanelError
from ..extensions import lazy_module
from ..versions import CORE_VERSION

# Imported by the first request to a store (5 MB a worker that only renders pages does without).
requests = lazy_module("requests")
requests_adapters = lazy_module("requests.adapters")
urllib3_exceptions = lazy_module("urllib3.exceptions")
urllib3_retry = lazy_module("urllib3.util.retry")

MAX_REDIRECTS = 3
RETRY_STATUSES = (500, 502, 503, 504)
CHUNK = 64 * 1024


class StoreError(PanelError):
    """The marketplace could not be reached or answered something the panel refuses."""

    status = 502


@dataclass
class JsonResult:
    data: object = None
    etag: str | None = None
    not_modified: bool = False


def check_url(url: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreError(_l("The marketplace address must start with http:// or https://."))
    return url


def _timed_out(exc: BaseException) -> bool:
    """Timeouts, also when urllib3 or requests wrap them (a stalled body comes as a ConnectionError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, urllib3_exceptions.NewConnectionError):  # refused; urllib3 files it under connect timeouts
            return False
        if isinstance(exc, (requests.exceptions.Timeout, urllib3_exceptions.ReadTimeoutError,
                            urllib3_exceptions.ConnectTimeoutError, socket.timeout)):
            return True
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = getattr(exc, "reason", None) or inner or exc.__cause__ or exc.__context__
    return False


TIMED_OUT = _l("The marketplace did not answer in time.")
CLOSED_EARLY = _l("The marketplace closed the connection too early.")


class Deadline:
    """One overall time limit for a request: connecting, headers, retries, back-off and body."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self) -> float:
        left = self.left()
        if left <= 0:
            raise StoreError(TIMED_OUT)
        return left


class _Watchdog:
    """Shuts the response's socket when the deadline passes, so a stalled or trickling body ends on time."""

    def __init__(self, response: requests.Response, deadline: Deadline):
        self.fired = False
        self.response = response
        self.timer = threading.Timer(max(deadline.left(), 0), self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        sock = getattr(getattr(self.response.raw, "connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


class StoreClient:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float, total_timeout: float,
                 retries: int, backoff: float, max_json_bytes: int, download_timeout: float | None = None):
        """Every limit comes from the config (see `from_config`); its defaults are in panel/config.py."""
        self.base_url = check_url(base_url).rstrip("/") + "/"
        self.total_timeout = total_timeout  # what a page may wait: below the worker time-out
        self.download_timeout = download_timeout or total_timeout  # packages download in jobs, not in pages
        self.max_json_bytes = max_json_bytes
        self.session = requests.Session()
        self.session.trust_env = False  # a loopback or intranet store must not go through a proxy by surprise
        self.session.headers.update({"User-Agent": f"ModulePanel/{CORE_VERSION}", "Accept": "application/json"})
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.retries, self.backoff = max(int(retries), 0), max(float(backoff), 0.0)
        # Retries are made here (see `_get`), not by urllib3, so they stay inside the overall deadline.
        adapter = requests_adapters.HTTPAdapter(max_retries=urllib3_retry.Retry(
            total=0, redirect=0, raise_on_status=False, raise_on_redirect=False))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def from_config(cls, config) -> "StoreClient":
        return cls(config["MARKETPLACE_URL"],
                   connect_timeout=float(config["MARKETPLACE_CONNECT_TIMEOUT"]),
                   read_timeout=float(config["MARKETPLACE_READ_TIMEOUT"]),
                   total_timeout=float(config["MARKETPLACE_TOTAL_TIMEOUT"]),
                   retries=int(config["MARKETPLACE_RETRIES"]),
                   backoff=float(config["MARKETPLACE_BACKOFF"]),
                   max_json_bytes=int(config["MARKETPLACE_MAX_JSON_BYTES"]),
                   download_timeout=float(config["MARKETPLACE_DOWNLOAD_TIMEOUT"]))

    def url(self, path: str) -> str:
        """An address on the store; absolute ones must stay on the store's own host."""
        full = urljoin(self.base_url, path)
        check_url(full)
        if _origin(full) != _origin(self.base_url):
            raise StoreError(_l("The marketplace pointed to another host; the panel refused to follow."))
        return full

    def close(self) -> None:
        self.session.close()

    # --- requests -----------------------------------------------------------------------------
    def _send(self, url: str, headers: dict, deadline: Deadline) -> requests.Response:
        """One GET, retried on connection errors, time-outs and 5xx with back-off, all within `deadline`."""
        error = StoreError(TIMED_OUT)
        for attempt in range(self.retries + 1):
            left = deadline.check()
            timeout = (min(self.connect_timeout, left), min(self.read_timeout, left))
            try:
                response = self.session.get(url, headers=headers, timeout=timeout, stream=True,
                                            allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                error = StoreError(TIMED_OUT if _timed_out(exc) or deadline.left() <= 0
                                   else _l("The marketplace could not be reached."))
                if attempt == self.retries:
                    raise error from None
            else:
                if response.status_code not in RETRY_STATUSES or attempt == self.retries:
                    return response
                response.close()
                error = StoreError(_l("The marketplace answered with an error (HTTP %(code)s).",
                                      code=response.status_code))
            pause = self.backoff * (2 ** attempt)
            if pause >= deadline.left():
                raise error  # no time left for another try: the last answer is the truth
            time.sleep(pause)
        raise error  # not reached: the loop returns or raises

    def _get(self, url: str, deadline: Deadline, headers: dict | None = None) -> requests.Response:
        """GET with redirects followed by hand, and only on the same scheme, host and port."""
        origin = _origin(self.base_url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(url, headers or {}, deadline)
            if response.is_redirect:
                target = urljoin(url, response.headers.get("Location", ""))
                response.close()
                if urlsplit(target).scheme not in ("http", "https") or _origin(target) != origin:
                    raise StoreError(_l("The marketplace redirected to another host; the panel refused to follow."))
                url = target
                continue
            return response
        raise StoreError(_l("The marketplace redirected too many times."))

    def _iter_capped(self, response: requests.Response, cap: int, deadline: Deadline):
        """The body in chunks, refused past `cap` bytes; a stall ends at the deadline ("did not answer
        in time"), a connection closed before the announced length is "closed too early"."""
        length = response.headers.get("Content-Length")
        if length and length.isascii() and length.isdigit() and int(length) > cap:
            response.close()
            raise StoreError(_l("The marketplace's answer is larger than the panel accepts (%(mb)s MB).",
                                mb=round(cap / 1048576, 1)))
        size = 0
        with _Watchdog(response, deadline) as watchdog:
            try:
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise StoreError(_l("The marketplace's answer is larger than the panel accepts (%(mb)s MB).",
                                            mb=round(cap / 1048576, 1)))
                    if deadline.left() <= 0:
                        raise StoreError(TIMED_OUT)
                    yield chunk
                if watchdog.fired:
                    raise StoreError(TIMED_OUT)
            except (requests.exceptions.RequestException, OSError) as exc:
                if watchdog.fired or _timed_out(exc) or deadline.left() <= 0:
                    raise StoreError(TIMED_OUT) from None
                raise StoreError(CLOSED_EARLY) from None
            finally:
                response.close()

    def _check_status(self, response: requests.Response) -> None:
        if response.status_code == 404:
            response.close()
            raise StoreError(_l("The marketplace does not know this item."), status=404)
        if response.status_code >= 400:
            response.close()
            raise StoreError(_l("The marketplace answered with an error (HTTP %(code)s).",
                                code=response.status_code))

    def get_json(self, path: str, etag: str | None = None, decode=json.loads) -> JsonResult:
        """A JSON document; with `etag`, a 304 comes back as `not_modified` and no body. `decode`
        reads the body (json.loads by default) and raises ValueError for one that is not JSON."""
        deadline = Deadline(self.total_timeout)
        headers = {"If-None-Match": etag} if etag else {}
        response = self._get(self.url(path), deadline, headers)
        if response.status_code == 304:
            response.close()
            return JsonResult(etag=etag, not_modified=True)
        self._check_status(response)
        body = b"".join(self._iter_capped(response, self.max_json_bytes, deadline))
        try:
            data = decode(body)
        except (ValueError, RecursionError):
            raise StoreError(_l("The marketplace sent an answer that is not valid JSON.")) from None
        return JsonResult(data=data, etag=response.headers.get("ETag"))

    def post_json(self, path: str, payload: dict) -> tuple[int, object]:
        """POST a JSON object (never retried: it may change the store's records); the status and the
        JSON answer (None when it is not JSON), refusals included, so the caller can read their reason.
        Within the same overall deadline as every GET."""
        deadline = Deadline(self.total_timeout)
        try:
            left = deadline.check()
            response = self.session.post(self.url(path), json=payload, stream=True, allow_redirects=False,
                                         timeout=(min(self.connect_timeout, left), min(self.read_timeout, left)))
        except requests.exceptions.RequestException as exc:
            if _timed_out(exc) or deadline.left() <= 0:
                raise StoreError(TIMED_OUT) from None
            raise StoreError(_l("The marketplace could not be reached.")) from None
        body = b"".join(self._iter_capped(response, self.max_json_bytes, deadline))
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        return response.status_code, data

    def download(self, path: str, dest: Path, max_bytes: int, progress=None,
                 headers: dict | None = None) -> tuple[str, int]:
        """Stream a file to `dest` (via a .part file); returns its sha256 and size. `headers` add to
        the request's (a paid package's `X-License-Token`)."""
        deadline = Deadline(self.download_timeout)
        response = self._get(self.url(path), deadline,
                             {"Accept": "application/zip, application/octet-stream", **(headers or {})})
        self._check_status(response)
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isascii() and total.isdigit() else 0
        digest = hashlib.sha256()
        part = Path(f"{dest}.part")
        size = 0
        try:
            with open(part, "wb") as fh:
                for chunk in self._iter_capped(response, max_bytes, deadline):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(size, total)
            part.replace(dest)
        finally:
            part.unlink(missing_ok=True)
        return digest.hexdigest(), size
