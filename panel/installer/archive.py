"""Module archives: validate a `.zip` from its central directory, then extract it with bounds.

Every check rejects; nothing is ever repaired or skipped. The limits are enforced twice: first
from the central directory (so a 200,000-entry archive or a 2 GB bomb is refused without
reading its data), then again while the bytes are copied (so headers that lie do not help).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from flask_babel import lazy_gettext as _l

from .. import manifest as manifest_mod
from ..errors import ManifestError, PackageError
from .entry_names import check_name, collision_key, entry_kind, shown_name

CHUNK = 1024 * 1024
# Per-entry compression ratio is only meaningful past this size: a few kilobytes of
# repeated text may compress 300:1 and is harmless.
RATIO_FLOOR_BYTES = 1024 * 1024
ALLOWED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
MANIFEST = "module.json"


@dataclass
class Limits:
    package_bytes: int = 50 * 1024 * 1024
    unpacked_bytes: int = 200 * 1024 * 1024
    entries: int = 5000
    ratio: int = 200

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(int(config["MAX_PACKAGE_BYTES"]), int(config["MAX_UNPACKED_BYTES"]),
                   int(config["MAX_ARCHIVE_ENTRIES"]), int(config["MAX_COMPRESSION_RATIO"]))


@dataclass
class Entry:
    info: zipfile.ZipInfo
    relative: str  # path inside the module folder ("" for the top-level folder itself)
    is_dir: bool


@dataclass
class ArchiveInfo:
    manifest: manifest_mod.Manifest
    entries: list[Entry]
    top_folder: str  # "" when module.json sits at the archive's root
    files: int
    unpacked_bytes: int
    package_bytes: int
    sha256: str = ""
    file_names: list[str] = field(default_factory=list)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f}"


def _entry_count(fp) -> int:
    """The entry count the end-of-central-directory record announces (read before parsing it)."""
    endrec = zipfile._EndRecData(fp)  # noqa: SLF001 — the stdlib's own reader, zip64 included
    if not endrec:
        raise PackageError(_l("The file is not a valid zip archive."))
    return int(endrec[zipfile._ECD_ENTRIES_TOTAL])  # noqa: SLF001


def read_package(zip_path: Path, limits: Limits) -> bytes:
    """The package's bytes, read from disk once (size-capped): the installer validates, unpacks and
    keeps them from memory, so an install never reads the file again."""
    with open(zip_path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size > limits.package_bytes:
            raise PackageError(_l("The package is larger than %(n)s MB.", n=_mib(limits.package_bytes)))
        data = fh.read(limits.package_bytes + 1)
    if len(data) > limits.package_bytes:  # it grew while being read
        raise PackageError(_l("The package is larger than %(n)s MB.", n=_mib(limits.package_bytes)))
    return data


def _open_file(source) -> tuple:
    """A binary file object over the package and its size."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source), len(source)
    fp = open(source, "rb")  # noqa: SIM115 — closed by open_archive
    return fp, os.fstat(fp.fileno()).st_size


@contextlib.contextmanager
def open_archive(source, limits: Limits, *, digest=None):
    """(ZipFile, size) of the package, after the size and entry-count caps; closed on leaving.
    `digest`, a hashlib object, is fed the whole package first from the same open file, so hashing
    and validating read a package on disk once."""
    fp, size = _open_file(source)
    with fp:
        if size > limits.package_bytes:
            raise PackageError(_l("The package is larger than %(n)s MB.", n=_mib(limits.package_bytes)))
        try:
            if digest is not None:
                while chunk := fp.read(CHUNK):
                    digest.update(chunk)
                fp.seek(0)
            if fp.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
                raise PackageError(_l("The file is not a valid zip archive."))
            fp.seek(0)
            if _entry_count(fp) > limits.entries:
                raise PackageError(_l("The archive has more than %(n)s entries.", n=limits.entries))
            fp.seek(0)
            archive = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError,
                struct.error, EOFError, UnicodeDecodeError):
            raise PackageError(_l("The file is not a valid zip archive, or it is damaged.")) from None
        with archive:
            if len(archive.filelist) > limits.entries:
                raise PackageError(_l("The archive has more than %(n)s entries.", n=limits.entries))
            yield archive, size


def validate(archive: zipfile.ZipFile, limits: Limits, package_bytes: int) -> ArchiveInfo:
    """Check every entry from the central directory, find and parse the manifest."""
    seen_exact: set[str] = set()
    files: dict[str, str] = {}  # collision key → name, for files
    dirs: dict[str, str] = {}  # collision key → name, for folders (explicit or implied)
    checked: list[tuple[zipfile.ZipInfo, list[str], bool]] = []
    total = 0
    for info in archive.filelist:
        name = info.orig_filename
        shown = shown_name(name)
        if info.flag_bits & 0x1 or info.flag_bits & 0x40:
            raise PackageError(_l("The archive entry “%(name)s” is encrypted; encrypted packages are refused.",
                                  name=shown))
        parts = check_name(name)
        kind = entry_kind(info)
        if kind == "other":
            raise PackageError(_l("The archive entry “%(name)s” is not a regular file or folder "
                                  "(symlinks and special files are refused).", name=shown))
        if info.compress_type not in ALLOWED_METHODS:
            raise PackageError(_l("The archive entry “%(name)s” uses an unsupported compression method.",
                                  name=shown))
        if name in seen_exact:
            raise PackageError(_l("The archive holds “%(name)s” twice.", name=shown))
        seen_exact.add(name)
        is_dir = kind == "dir"
        if is_dir and (info.file_size or info.compress_size):
            raise PackageError(_l("The archive entry “%(name)s” is a folder with content.", name=shown))
        if info.file_size < 0 or info.compress_size < 0:
            raise PackageError(_l("The file is not a valid zip archive, or it is damaged."))
        total += info.file_size
        if total > limits.unpacked_bytes:
            raise PackageError(_l("The package unpacks to more than %(n)s MB.", n=_mib(limits.unpacked_bytes)))
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise PackageError(_l("The archive entry “%(name)s” is compressed more than %(n)s:1 "
                                  "(a zip bomb?).", name=shown, n=limits.ratio))
        path = "/".join(parts)
        key = collision_key(path)
        if key in files or (is_dir and key in dirs and dirs[key] != path) or (not is_dir and key in dirs):
            other = files.get(key) or dirs.get(key)
            raise PackageError(_l("The archive entries “%(name)s” and “%(other)s” would be the same file "
                                  "on some file systems.", name=shown, other=shown_name(other)))
        if is_dir:
            dirs[key] = path
        else:
            files[key] = path
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            parent_key = collision_key(parent)
            if parent_key in files:
                raise PackageError(_l("The archive entry “%(name)s” passes through the file “%(other)s”.",
                                      name=shown, other=shown_name(files[parent_key])))
            if parent_key in dirs and dirs[parent_key] != parent:
                raise PackageError(_l("The archive entries “%(name)s” and “%(other)s” would be the same file "
                                      "on some file systems.", name=shown, other=shown_name(dirs[parent_key])))
            dirs[parent_key] = parent
        checked.append((info, parts, is_dir))
    if not checked:
        raise PackageError(_l("The archive is empty."))

    top_folder = _find_root(checked)
    manifest_name = f"{top_folder}/{MANIFEST}" if top_folder else MANIFEST
    manifest_info = next(info for info, parts, is_dir in checked if "/".join(parts) == manifest_name)
    manifest = _read_manifest(archive, manifest_info)
    if top_folder and top_folder != manifest.slug:
        raise PackageError(_l("The archive's top-level folder “%(folder)s” does not match the module's slug "
                              "“%(slug)s”.", folder=shown_name(top_folder), slug=manifest.slug))
    strip = len(top_folder) + 1 if top_folder else 0
    entries = []
    for info, parts, is_dir in checked:
        relative = "/".join(parts)[strip:] if top_folder else "/".join(parts)
        entries.append(Entry(info, relative, is_dir))
    file_names = sorted(e.relative for e in entries if not e.is_dir)
    if "__init__.py" not in file_names:
        raise PackageError(_l("The package has no __init__.py next to module.json."))
    return ArchiveInfo(manifest=manifest, entries=entries, top_folder=top_folder, files=len(file_names),
                       unpacked_bytes=total, package_bytes=package_bytes, file_names=file_names)


def _find_root(checked) -> str:
    names = {"/".join(parts) for _, parts, _ in checked}
    if MANIFEST in names:
        return ""
    tops = {parts[0] for _, parts, _ in checked}
    if len(tops) > 1:
        if any(f"{top}/{MANIFEST}" in names for top in tops):
            raise PackageError(_l("The archive has more than one top-level folder; put everything in one "
                                  "folder named after the module, or at the root."))
        raise PackageError(_l("The package has no module.json at its root or in a single top-level folder."))
    top = next(iter(tops))
    if any(len(parts) == 1 and not is_dir for _, parts, is_dir in checked):
        raise PackageError(_l("The package has no module.json at its root or in a single top-level folder."))
    if f"{top}/{MANIFEST}" not in names:
        raise PackageError(_l("The package has no module.json at its root or in a single top-level folder."))
    return top


def _read_manifest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> manifest_mod.Manifest:
    limit = manifest_mod.MAX_MANIFEST_BYTES
    if info.file_size > limit:
        raise PackageError(_l("module.json is larger than %(n)s KB.", n=limit // 1024))
    try:
        with archive.open(info) as fh:
            raw = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError, struct.error):
        raise PackageError(_l("The file is not a valid zip archive, or it is damaged.")) from None
    if len(raw) > limit:
        raise PackageError(_l("module.json is larger than %(n)s KB.", n=limit // 1024))
    try:
        return manifest_mod.parse(raw)
    except ManifestError as exc:
        raise PackageError(exc.message) from None


def inspect(source, limits: Limits, sha256: str | None = None) -> ArchiveInfo:
    """Validate a package (a path, or its bytes) without unpacking it. Its sha256 is `sha256` when the
    caller computed it already (while downloading), else hashed here within the same single read."""
    in_memory = isinstance(source, (bytes, bytearray, memoryview))
    digest = None if sha256 or in_memory else hashlib.sha256()
    with open_archive(source, limits, digest=digest) as (archive, size):
        info = validate(archive, limits, size)
    info.sha256 = sha256 or (digest.hexdigest() if digest else hashlib.sha256(source).hexdigest())
    return info


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def extract(source, dest: Path, limits: Limits, progress: Callable[[int, int], None] | None = None,
            checked: ArchiveInfo | None = None) -> ArchiveInfo:
    """Validate, then unpack the package (a path, or its bytes) into `dest` (which must not exist
    yet), counting every byte written. `checked` is `inspect`'s answer for these same bytes (an
    immutable `bytes`), so their central directory is not checked twice.

    Only names that passed `check_name` are joined to `dest`; files are created with O_EXCL and
    O_NOFOLLOW, so nothing can be overwritten or written through a link. On any error the caller
    removes `dest`.
    """
    with open_archive(source, limits) as (archive, size):
        reuse = checked is not None and isinstance(source, bytes)
        info = checked if reuse else validate(archive, limits, size)
        os.mkdir(dest, 0o755)
        root = os.path.realpath(dest)
        written_total = 0
        expected_total = info.unpacked_bytes
        inside: set[str] = set()  # parent folders found to resolve inside `dest` (once each, not per file)
        made: set[str] = set()
        for entry in info.entries:
            if not entry.relative:
                continue
            target = os.path.join(root, *entry.relative.split("/"))
            parent = os.path.dirname(target)
            if parent not in inside:
                if os.path.commonpath([root, os.path.realpath(parent)]) != root:
                    raise PackageError(_l("The archive entry “%(name)s” is not a plain relative path.",
                                          name=shown_name(entry.info.orig_filename)))
                inside.add(parent)
            folder = target if entry.is_dir else parent
            if folder not in made:
                os.makedirs(folder, 0o755, exist_ok=True)
                made.add(folder)
            if entry.is_dir:
                continue
            declared = entry.info.file_size
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                         0o644)
            written = 0
            try:
                with archive.open(entry.info) as member:
                    while True:
                        chunk = member.read(CHUNK)
                        if not chunk:
                            break
                        written += len(chunk)
                        written_total += len(chunk)
                        if written > declared or written_total > limits.unpacked_bytes:
                            raise PackageError(_l("The archive entry “%(name)s” unpacks to more than it declares "
                                                  "(a zip bomb?).", name=shown_name(entry.info.orig_filename)))
                        _write_all(fd, chunk)
                        if progress:
                            progress(written_total, expected_total)
                if written != declared:
                    raise PackageError(_l("The file is not a valid zip archive, or it is damaged."))
            except (zipfile.BadZipFile, EOFError, ValueError, RuntimeError, NotImplementedError, struct.error,
                    zlib.error):
                raise PackageError(_l("The archive entry “%(name)s” is damaged.",
                                      name=shown_name(entry.info.orig_filename))) from None
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise PackageError(_l("There is not enough free disk space to unpack the package.")) from None
                raise
            finally:
                os.close(fd)
    info.package_bytes = size
    return info
