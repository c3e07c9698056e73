"""HTTP to a marketplace: timeouts, retries with back-off, conditional GET, size caps, same-host redirects only.

No Flask request in here: settings come in as arguments (see `from_config`).
"""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from flask_babel import lazy_gettext as _l
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from ..errors import PanelError
from ..versions import CORE_VERSION

MAX_REDIRECTS = 3
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


def _timed_out(exc: Exception) -> bool:
    """Timeouts, also when urllib3 wraps them after the last retry."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NewConnectionError):  # refused; urllib3 files it under connect timeouts
        return False
    return isinstance(reason, (ReadTimeoutError, ConnectTimeoutError))


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


class StoreClient:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float, total_timeout: float,
                 retries: int, backoff: float, max_json_bytes: int):
        """Every limit comes from the config (see `from_config`); its defaults are in panel/config.py."""
        self.base_url = check_url(base_url).rstrip("/") + "/"
        self.timeout = (connect_timeout, read_timeout)
        self.total_timeout = total_timeout
        self.max_json_bytes = max_json_bytes
        self.session = requests.Session()
        self.session.trust_env = False  # a loopback or intranet store must not go through a proxy by surprise
        self.session.headers.update({"User-Agent": f"ModulePanel/{CORE_VERSION}", "Accept": "application/json"})
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, redirect=0,
                      backoff_factor=backoff, status_forcelist=(500, 502, 503, 504),
                      allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False,
                      raise_on_redirect=False, respect_retry_after_header=False)
        adapter = HTTPAdapter(max_retries=retry)
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
                   max_json_bytes=int(config["MARKETPLACE_MAX_JSON_BYTES"]))

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
    def _get(self, url: str, headers: dict | None = None) -> requests.Response:
        """GET with redirects followed by hand, and only on the same scheme, host and port."""
        origin = _origin(self.base_url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.get(url, headers=headers or {}, timeout=self.timeout, stream=True,
                                            allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                if _timed_out(exc):
                    raise StoreError(_l("The marketplace did not answer in time.")) from None
                raise StoreError(_l("The marketplace could not be reached.")) from None
            if response.is_redirect:
                target = urljoin(url, response.headers.get("Location", ""))
                response.close()
                if urlsplit(target).scheme not in ("http", "https") or _origin(target) != origin:
                    raise StoreError(_l("The marketplace redirected to another host; the panel refused to follow."))
                url = target
                continue
            return response
        raise StoreError(_l("The marketplace redirected too many times."))

    def _iter_capped(self, response: requests.Response, cap: int, started: float):
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            response.close()
            raise StoreError(_l("The marketplace's answer is larger than the panel accepts (%(mb)s MB).",
                                mb=round(cap / 1048576, 1)))
        size = 0
        try:
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > cap:
                    raise StoreError(_l("The marketplace's answer is larger than the panel accepts (%(mb)s MB).",
                                        mb=round(cap / 1048576, 1)))
                if time.monotonic() - started > self.total_timeout:
                    raise StoreError(_l("The marketplace did not answer in time."))
                yield chunk
        except requests.exceptions.Timeout:
            raise StoreError(_l("The marketplace did not answer in time.")) from None
        except requests.exceptions.RequestException:
            raise StoreError(_l("The marketplace closed the connection too early.")) from None
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

    def get_json(self, path: str, etag: str | None = None) -> JsonResult:
        """A JSON document; with `etag`, a 304 comes back as `not_modified` and no body."""
        started = time.monotonic()
        headers = {"If-None-Match": etag} if etag else {}
        response = self._get(self.url(path), headers)
        if response.status_code == 304:
            response.close()
            return JsonResult(etag=etag, not_modified=True)
        self._check_status(response)
        body = b"".join(self._iter_capped(response, self.max_json_bytes, started))
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise StoreError(_l("The marketplace sent an answer that is not valid JSON.")) from None
        return JsonResult(data=data, etag=response.headers.get("ETag"))

    def post_json(self, path: str, payload: dict) -> tuple[int, object]:
        """POST a JSON object (never retried: it may change the store's records); the status and the
        JSON answer (None when it is not JSON), refusals included, so the caller can read their reason."""
        started = time.monotonic()
        try:
            response = self.session.post(self.url(path), json=payload, timeout=self.timeout, stream=True,
                                         allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            if _timed_out(exc):
                raise StoreError(_l("The marketplace did not answer in time.")) from None
            raise StoreError(_l("The marketplace could not be reached.")) from None
        body = b"".join(self._iter_capped(response, self.max_json_bytes, started))
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        return response.status_code, data

    def download(self, path: str, dest: Path, max_bytes: int, progress=None,
                 headers: dict | None = None) -> tuple[str, int]:
        """Stream a file to `dest` (via a .part file); returns its sha256 and size. `headers` add to
        the request's (a paid package's `X-License-Token`)."""
        started = time.monotonic()
        response = self._get(self.url(path), {"Accept": "application/zip, application/octet-stream", **(headers or {})})
        self._check_status(response)
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else 0
        digest = hashlib.sha256()
        part = Path(f"{dest}.part")
        size = 0
        try:
            with open(part, "wb") as fh:
                for chunk in self._iter_capped(response, max_bytes, started):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(size, total)
            part.replace(dest)
        finally:
            part.unlink(missing_ok=True)
        return digest.hexdigest(), size
