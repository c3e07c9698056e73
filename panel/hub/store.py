"""The hub's data: module sources + release metadata -> catalog, details, signed reproducible packages."""

import base64
import hashlib
import io
import json
import os
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..licensing import package_signature

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
RELEASES = HERE / "releases"
MEDIA = HERE / "media"
CORE_CHANGELOG = HERE / "core_changelog.json"
HISTORY = 16  # catalog versions remembered for `since`

# Fixed metadata so the same source gives the same bytes on every machine and every run.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16
DIR_MODE = (0o40755 << 16) | 0x10
SKIP_NAMES = {"__pycache__", ".DS_Store", ".git"}
SKIP_SUFFIXES = (".pyc", ".pyo", "~")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The hub's signing key, created once (mode 0600); safe when two workers start together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            return key
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def build_zip(source: Path, slug: str, manifest: dict) -> bytes:
    """A package of `source` under `<slug>/`, with `manifest` as its module.json: same input, same bytes."""
    files = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in SKIP_NAMES for part in rel.parts) or path.name.endswith(SKIP_SUFFIXES):
            continue
        if path.is_file() and rel.as_posix() != "module.json":
            files.append((rel.as_posix(), path.read_bytes()))
    files.append(("module.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()))
    files.sort()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(f"{slug}/{name}", date_time=ZIP_DATE)
            info.external_attr = FILE_MODE
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


@dataclass
class Release:
    version: str
    date: str
    notes: str
    requires_core: str
    package: bytes = b""
    sha256: str = ""
    signature: str = ""

    def public(self, slug: str, with_notes: bool = True) -> dict:
        data = {"version": self.version, "date": self.date, "requires_core": self.requires_core,
                "sha256": self.sha256, "signature": self.signature, "size": len(self.package),
                "download_url": f"api/modules/{slug}/{self.version}/download"}
        if with_notes:
            data["notes"] = self.notes
        return data


@dataclass
class Entry:
    slug: str
    manifest: dict
    meta: dict
    releases: list[Release] = field(default_factory=list)

    @property
    def latest(self) -> Release:
        return self.releases[-1]

    def summary(self) -> dict:
        m, meta = self.manifest, self.meta
        return {
            "slug": self.slug, "name": m.get("name", self.slug), "version": self.latest.version,
            "summary": meta.get("summary") or m.get("description", ""), "category": m.get("category", ""),
            "author": m.get("author", ""), "paid": bool(meta.get("paid")), "price": meta.get("price", ""),
            "trial_days": meta.get("trial_days", 0), "icon": meta.get("icon") or (m.get("menu") or {}).get("icon", ""),
            "docs_url": m.get("docs_url", ""), "homepage": m.get("homepage", ""),
            "requires_core": self.latest.requires_core, "requires": m.get("requires") or {},
            "has_eula": bool(meta.get("eula")), "sha256": self.latest.sha256, "signature": self.latest.signature,
            "download_url": f"api/modules/{self.slug}/{self.latest.version}/download",
            "versions": [r.public(self.slug, with_notes=False) for r in self.releases],
        }

    def detail(self, eula_text: str) -> dict:
        data = self.summary()
        data.update({
            "description": self.meta.get("description") or self.manifest.get("description", ""),
            "screenshots": [{"url": f"media/{self.slug}/{s['file']}", "caption": s.get("caption", "")}
                            for s in self.meta.get("screenshots", [])],
            "links": self.meta.get("links", []),
            "eula": eula_text,
            "versions": [r.public(self.slug) for r in self.releases],
        })
        return data


class Store:
    """Everything the hub serves, built once on first use (packages are signed then)."""

    def __init__(self, key_path: Path, sources: Path = SOURCES, releases: Path = RELEASES,
                 synthetic: int = 0, extra: list | None = None):
        self.key_path = Path(key_path)
        self.sources = Path(sources)
        self.releases = Path(releases)
        self.synthetic = int(synthetic or 0)
        self.extra = list(extra or [])
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] | None = None
        self._catalog: tuple[bytes, str] | None = None
        # Earlier catalog versions (ETag -> slug -> digest of its entry), so a panel that names the
        # version it holds (`since`) gets only what changed; bounded, the oldest forgotten first.
        self._history: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._parts: dict[str, bytes] = {}
        self._key: Ed25519PrivateKey | None = None

    # --- keys ---------------------------------------------------------------------------------
    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create_key(self.key_path)
        return self._key

    def public_key(self) -> dict:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"algorithm": "ed25519", "key": base64.b64encode(raw).decode(),
                "fingerprint": hashlib.sha256(raw).hexdigest()}

    def sign(self, data: bytes) -> str:
        """A package signature over its sha256 digest (`panel.licensing.package_signature`), so a panel
        checks it from the digest it computes while downloading. Only zips (b"PK…") are signed."""
        if not data.startswith(b"PK"):
            raise ValueError("the store signs only zip packages with a package signature")
        return package_signature.sign(self.key, hashlib.sha256(data).hexdigest())

    # --- building -----------------------------------------------------------------------------
    def entries(self) -> dict[str, Entry]:
        with self._lock:
            if self._entries is None:
                self._entries = self._build()
            return self._entries

    def set_extra(self, extra: list) -> None:
        """Raw catalog entries appended as they are (tests use them for hostile or malformed data)."""
        with self._lock:
            self.extra = list(extra)
            self._catalog = None

    def _build(self) -> dict[str, Entry]:
        entries = {}
        for meta_file in sorted(self.releases.glob("*.json")):
            slug = meta_file.stem
            source = self.sources / slug
            if not (source / "module.json").is_file():
                continue
            manifest = json.loads((source / "module.json").read_text(encoding="utf-8"))
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            entry = Entry(slug, manifest, meta)
            for spec in meta.get("versions", []):
                release = Release(spec["version"], spec.get("date", ""), spec.get("notes", ""),
                                  spec.get("requires_core", manifest.get("requires_core", "")))
                rewritten = dict(manifest, version=release.version, requires_core=release.requires_core)
                release.package = build_zip(source, slug, rewritten)
                release.sha256 = hashlib.sha256(release.package).hexdigest()
                release.signature = self.sign(release.package)
                entry.releases.append(release)
            if entry.releases:
                entries[slug] = entry
        return entries

    def _synthetic_entries(self) -> list[dict]:
        categories = ["Billing", "Payments", "Hosting", "Tools", "Security", "Reports", "Telephony", "Mail"]
        rows = []
        for i in range(self.synthetic):
            version = f"1.{i % 7}.{i % 3}"
            rows.append({
                "slug": f"synthetic_{i:05d}", "name": f"Synthetic module {i:05d}", "version": version,
                "summary": f"Generated entry number {i} for load tests: search me by name or number.",
                "category": categories[i % len(categories)], "author": f"Vendor {i % 50}",
                "paid": i % 4 == 0, "price": "10 EUR" if i % 4 == 0 else "", "trial_days": 0,
                "icon": "box", "docs_url": f"https://example.org/docs/synthetic_{i:05d}", "homepage": "",
                "requires_core": ">=1.0", "requires": {}, "has_eula": False,
                "sha256": hashlib.sha256(str(i).encode()).hexdigest(), "signature": "",
                "download_url": f"api/modules/synthetic_{i:05d}/{version}/download",
                "versions": [{"version": version, "date": "2025-01-01", "requires_core": ">=1.0",
                              "sha256": hashlib.sha256(str(i).encode()).hexdigest(), "signature": "",
                              "size": 0, "download_url": f"api/modules/synthetic_{i:05d}/{version}/download"}],
            })
        return rows

    # --- what the API serves ------------------------------------------------------------------
    def catalog(self) -> tuple[bytes, str]:
        """The catalog JSON and its ETag (a digest of the bytes)."""
        entries = self.entries()
        with self._lock:
            if self._catalog is None:
                modules = [e.summary() for e in entries.values()] + self._synthetic_entries() + self.extra
                parts = [json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode() for m in modules]
                body = b'{"modules":[' + b",".join(parts) + b"]}"
                etag = hashlib.sha256(body).hexdigest()[:32]
                self._parts = {}
                for module, part in zip(modules, parts):  # the first of a repeated slug counts, as in the panel
                    if isinstance(module, dict) and isinstance(module.get("slug"), str):
                        self._parts.setdefault(module["slug"], part)
                self._history[etag] = {slug: hash(part) for slug, part in self._parts.items()}
                while len(self._history) > HISTORY:
                    self._history.popitem(last=False)
                self._catalog = (body, etag)
            return self._catalog

    def changes_since(self, version: str) -> tuple[bytes, str] | None:
        """What changed since the catalog `version` (an earlier ETag): the added or changed entries
        and the removed slugs, with the current ETag; None when that version is not remembered."""
        body, etag = self.catalog()
        with self._lock:
            before = self._history.get(version)
            if before is None or version == etag:
                return None
            current = self._history[etag]
            changed = [self._parts[slug] for slug, digest in current.items() if before.get(slug) != digest]
            removed = [slug for slug in before if slug not in current]
        head = json.dumps({"since": version, "removed": removed}, separators=(",", ":")).encode()
        return head[:-1] + b',"modules":[' + b",".join(changed) + b"]}", etag

    def get(self, slug: str) -> Entry | None:
        return self.entries().get(slug)

    def detail(self, slug: str) -> dict | None:
        entry = self.get(slug)
        if entry is None:
            return None
        eula = ""
        if entry.meta.get("eula"):
            eula_file = self.releases / entry.meta["eula"]
            if eula_file.is_file():
                eula = eula_file.read_text(encoding="utf-8")
        return entry.detail(eula)

    def changelog(self, slug: str) -> dict | None:
        entry = self.get(slug)
        if entry is None:
            return None
        return {"slug": slug, "name": entry.manifest.get("name", slug),
                "versions": [{"version": r.version, "date": r.date, "notes": r.notes,
                              "requires_core": r.requires_core} for r in reversed(entry.releases)]}

    def package(self, slug: str, version: str) -> Release | None:
        entry = self.get(slug)
        if entry is None:
            return None
        return next((r for r in entry.releases if r.version == version), None)

    @staticmethod
    def core_changelog() -> dict:
        data = json.loads(CORE_CHANGELOG.read_text(encoding="utf-8"))
        data["versions"] = list(reversed(data["versions"]))
        return data
