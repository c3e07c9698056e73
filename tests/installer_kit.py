"""Helpers for the installer tests: build module packages (honest and hostile) and fingerprint folders."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "panel" / "hub" / "sources"


def module_files(slug: str = "hello", version: str | None = None, **manifest_changes) -> dict[str, bytes]:
    """The files of a sample module, with its module.json changed as asked."""
    source = SOURCES / slug
    files = {}
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(source).as_posix()] = path.read_bytes()
    if not version and not manifest_changes:
        return files
    manifest = json.loads(files["module.json"])
    if version:
        manifest["version"] = version
    manifest.update(manifest_changes)
    files["module.json"] = json.dumps(manifest, indent=2).encode()
    return files


def make_zip(path: Path, files: dict[str, bytes] | list[tuple[str, bytes]], top: str | None = None,
             method=zipfile.ZIP_DEFLATED) -> Path:
    items = files.items() if isinstance(files, dict) else files
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in items:
            zf.writestr(f"{top}/{name}" if top else name, data)
    return path


def package(tmp_path: Path, name: str = "pkg.zip", slug: str = "hello", version: str | None = None,
            top: str | None = None, extra: dict[str, bytes] | None = None, **manifest_changes) -> Path:
    files = module_files(slug, version, **manifest_changes)
    files.update(extra or {})
    return make_zip(tmp_path / name, files, top=top)


def raw_zip(entries: list[dict], zip64: bool = False) -> bytes:
    """A zip written byte by byte, so tests can say what no zip library would write.

    Each entry: name (bytes), payload (bytes as stored), method (0/8), crc, size (declared
    uncompressed size), flags, external_attr, system (create_system)."""
    out = io.BytesIO()
    central = []
    for e in entries:
        name, payload = e["name"], e.get("payload", b"")
        method, flags = e.get("method", 0), e.get("flags", 0)
        crc = e.get("crc", zlib.crc32(payload) if method == 0 else 0)
        size = e.get("size", len(payload))
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(payload), size,
                              len(name), 0))
        out.write(name)
        out.write(payload)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", (e.get("system", 3) << 8) | 20, 20, flags, method,
                                   0, 0x21, crc, len(payload), size, len(name), 0, 0, 0, 0,
                                   e.get("external_attr", 0o100644 << 16), offset) + name)
    cd_offset = out.tell()
    cd = b"".join(central)
    out.write(cd)
    count = len(entries)
    if zip64 or count > 0xFFFF:
        z64 = out.tell()
        out.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(cd), cd_offset))
        out.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, z64, 1))
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(cd), cd_offset, 0))
    else:
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(cd), cd_offset, 0))
    return out.getvalue()


def stored(name: str, data: bytes, **fields) -> dict:
    return {"name": name.encode("utf-8"), "payload": data, **fields}


def module_entries(slug: str = "hello", version: str | None = None) -> list[dict]:
    return [stored(name, data) for name, data in module_files(slug, version).items()]


def zeros_bomb(gigabytes: int = 2) -> tuple[bytes, int]:
    """A raw deflate stream of `gigabytes` GiB of zeros (about 2 MB), built without inflating anything."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (1024 * gigabytes) + compressor.flush(), (1 << 30) * gigabytes


def tree(folder: Path, skip=("panel.db", "panel.db-wal", "panel.db-shm")) -> dict[str, str]:
    """Every file and folder under `folder` with a digest of its bytes (folders map to "dir")."""
    result = {}
    if not folder.exists():
        return result
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.name in skip or rel.startswith("instance/locks") or rel.startswith("locks") or "__pycache__" in rel:
            continue
        if path.is_symlink():
            result[rel] = "link:" + str(path.readlink())
        elif path.is_dir():
            result[rel] = "dir"
        else:
            result[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result
