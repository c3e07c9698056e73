"""What a name inside a module package may be: every entry is checked before anything is
written, so a package cannot reach outside its folder, hide a name, or hold one that some file
system cannot store or would confuse with another."""

from __future__ import annotations

import re
import stat
import unicodedata
import zipfile

from flask_babel import lazy_gettext as _l

from ..errors import PackageError

MAX_NAME_BYTES = 1024
MAX_PART_BYTES = 255
MAX_DEPTH = 32
WINDOWS_FORBIDDEN = set('<>:"|?*\\')
WINDOWS_DEVICES = {"con", "prn", "aux", "nul", "conin$", "conout$",
                   *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
# Unicode categories a file name may not contain: controls, format (zero-width, bidi
# overrides), line/paragraph separators, surrogates, private use and unassigned.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def shown_name(name: str) -> str:
    """An entry name fit for a message: controls shown as escapes, length bounded."""
    text = name.encode("unicode_escape").decode("ascii") if not name.isprintable() else name
    return text[:80] + ("…" if len(text) > 80 else "")


def check_name(name: str) -> list[str]:
    """The parts of a valid entry name; raises PackageError naming what is wrong."""
    shown = shown_name(name)
    if not name or name == "/":
        raise PackageError(_l("The archive has an entry with an empty name."))
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise PackageError(_l("The archive has an entry name longer than %(n)s bytes.", n=MAX_NAME_BYTES))
    if "\\" in name:
        raise PackageError(_l("The archive entry “%(name)s” uses a backslash in its name.", name=shown))
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise PackageError(_l("The archive entry “%(name)s” has an absolute path.", name=shown))
    for char in name:
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES:
            raise PackageError(_l("The archive entry “%(name)s” contains a control or invisible character.",
                                  name=shown))
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if len(parts) > MAX_DEPTH:
        raise PackageError(_l("The archive entry “%(name)s” is nested too deeply.", name=shown))
    for part in parts:
        if part in ("", ".", ".."):
            raise PackageError(_l("The archive entry “%(name)s” is not a plain relative path.", name=shown))
        if WINDOWS_FORBIDDEN & set(part) or part.endswith((".", " ")) or part != part.strip() \
                or part.split(".")[0].lower() in WINDOWS_DEVICES:
            raise PackageError(_l("The archive entry “%(name)s” has a name some file systems cannot hold.",
                                  name=shown))
        if len(part.encode("utf-8")) > MAX_PART_BYTES:
            raise PackageError(_l("The archive entry “%(name)s” has a name longer than %(n)s bytes.",
                                  name=shown, n=MAX_PART_BYTES))
    return parts


def collision_key(path: str) -> str:
    """Names that would land on the same file on a case-insensitive or normalising file system."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKD", path).casefold())


def entry_kind(info: zipfile.ZipInfo) -> str:
    """"dir", "file" or "other" (symlinks, devices, pipes…)."""
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode):  # Unix: the type bits are authoritative
        if stat.S_ISDIR(mode):
            return "dir" if info.orig_filename.endswith("/") else "other"
        if stat.S_ISREG(mode):
            return "other" if info.orig_filename.endswith("/") else "file"
        return "other"
    if info.external_attr & 0x400:  # DOS "reparse point": a Windows symlink or junction
        return "other"
    if info.orig_filename.endswith("/") or info.external_attr & 0x10:
        return "dir" if info.orig_filename.endswith("/") else "other"
    return "file"
