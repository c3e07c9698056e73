"""A marketplace install, end to end, against the same download, hash and unpack done plainly.

The store (the reference hub, on a loopback port) serves modules of a few package sizes, each an
incompressible payload plus 200 small source files. For each size, three runs of:

- **panel**: an install job as the panel runs it — download from the store, sha256 against the
  catalog, Ed25519 signature, archive checks, bounded extraction, journal and swap, module load,
  database record (the package kept for the other nodes) — then an uninstall, not timed;
- **hashlib + zipfile**: the same download over HTTP with `requests`, hashed with hashlib while it
  streams to disk, then `zipfile.extractall`;
- **curl + sha256sum + unzip**: the same with the command-line tools, when they are installed;
- **+ bytes kept in SQLite**: hashlib + zipfile, then the package's bytes inserted and committed
  in a SQLite table, as the panel keeps them for its other nodes (issue 12) — a reference line.

Prints min/median/max of the runs and the ratio of medians. Goals: a 50 MB package in at most 1.5×
curl + sha256sum + unzip (issue 3); the package read from disk at most twice (issue 14, checked by
tests/test_package_reads.py). The ratio to hashlib + zipfile is the curve issue 14 asks to show.

Run: .venv/bin/python bench/install.py [--quick | --sizes 1,10]   (quick: 1 and 5 MB; else 1, 10, 45 MB)
"""

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

from _common import ROOT, spread
from _scale import serve

RUNS = 3
SMALL_FILES = 200


def write_source(sources: Path, releases: Path, slug: str, payload_mb: int) -> None:
    """A module source folder and its release metadata, as the hub reads them."""
    folder = sources / slug
    (folder / "static").mkdir(parents=True)
    (folder / "lib").mkdir()
    manifest = {"slug": slug, "name": f"Bench {payload_mb} MB", "version": "1.0.0", "author": "bench",
                "requires_core": ">=1.0"}
    (folder / "module.json").write_text(json.dumps(manifest))
    (folder / "__init__.py").write_text("def setup(api):\n    pass\n")
    blobs = max(1, payload_mb // 5)
    for i in range(blobs):  # incompressible, so the package is as large as its payload
        (folder / "static" / f"blob{i:02d}.bin").write_bytes(os.urandom(payload_mb * 1024 * 1024 // blobs))
    for i in range(SMALL_FILES):
        (folder / "lib" / f"part{i:03d}.py").write_text(f"VALUE_{i} = {i!r}\n" * 40)
    (releases / f"{slug}.json").write_text(json.dumps({"summary": "bench", "versions": [
        {"version": "1.0.0", "date": "2025-01-01", "requires_core": ">=1.0", "notes": ""}]}))


def plain_download(url: str, dest: Path) -> str:
    digest = hashlib.sha256()
    with requests.get(url, stream=True, timeout=60) as response, open(dest, "wb") as fh:
        response.raise_for_status()
        for chunk in response.iter_content(64 * 1024):
            fh.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def plain_install(url: str, sha256: str, dest: Path, target: Path) -> None:
    """Download with its sha256 checked, then extract: requests + hashlib + zipfile."""
    if plain_download(url, dest) != sha256:
        raise SystemExit("the plain download does not match the catalog's sha256")
    with zipfile.ZipFile(dest) as archive:
        archive.extractall(target)


def hashlib_zipfile(url: str, sha256: str, work: Path) -> float:
    dest, target = work / "plain.zip", work / "plain-out"
    start = time.perf_counter()
    plain_install(url, sha256, dest, target)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    dest.unlink()
    return elapsed


def hashlib_zipfile_stored(url: str, sha256: str, work: Path, database: Path) -> float:
    """The plain install plus what the panel must also do for its other nodes (issue 12): the
    package's bytes stored in a SQLite table (WAL, synchronous=NORMAL, as the panel's) and committed."""
    dest, target = work / "plain.zip", work / "plain-out"
    start = time.perf_counter()
    plain_install(url, sha256, dest, target)
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE IF NOT EXISTS packages (sha256 TEXT PRIMARY KEY, data BLOB)")
        connection.execute("INSERT INTO packages VALUES (?, ?)", (sha256, dest.read_bytes()))
    elapsed = time.perf_counter() - start
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM packages")
    connection.close()
    shutil.rmtree(target)
    dest.unlink()
    return elapsed


def command_line(url: str, work: Path) -> float:
    dest, target = work / "cli.zip", work / "cli-out"
    start = time.perf_counter()
    subprocess.run(["curl", "-sSf", "-o", str(dest), url], check=True)
    subprocess.run(["sha256sum", str(dest)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["unzip", "-q", "-o", str(dest), "-d", str(target)], check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    dest.unlink()
    return elapsed


def panel_install(app, slug: str) -> float:
    from panel.installer import uninstall
    from panel.marketplace import jobs

    with app.app_context():
        start = time.perf_counter()
        job = jobs.create_install(slug, "1.0.0", "bench").job
        job = jobs.run_install(job.id)
        elapsed = time.perf_counter() - start
        if job.state != "done":
            raise SystemExit(f"the install of {slug} failed: {job.message}")
        uninstall(slug, "bench", delete_data=True)
    return elapsed


def main() -> None:
    import flask_migrate

    from panel import MIGRATIONS_DIR, create_app
    from panel.hub import create_hub
    from panel.marketplace import catalog
    from panel.services import users

    logging.disable(logging.WARNING)
    quick = "--quick" in sys.argv
    sizes = (1, 5) if quick else (1, 10, 45)
    if "--sizes" in sys.argv:  # e.g. --sizes 45 or --sizes 1,10
        sizes = tuple(int(n) for n in sys.argv[sys.argv.index("--sizes") + 1].split(","))
    tools = all(shutil.which(tool) for tool in ("curl", "sha256sum", "unzip"))
    work = Path(tempfile.mkdtemp(prefix="bench-install-"))
    try:
        sources, releases = work / "sources", work / "releases"
        releases.mkdir(parents=True)
        for size in sizes:
            write_source(sources, releases, f"bench_{size}mb", size)
        hub = create_hub({"HUB_INSTANCE_PATH": str(work / "hub"), "HUB_SEED_DEMO": False})
        store = hub.extensions["hub_store"]
        store.sources, store.releases = sources, releases  # built (zipped and signed) on first use
        store.entries()
        store_url, server = serve(hub)

        config = {"INSTANCE_PATH": str(work / "instance"), "SECRET_KEY": "bench", "EMBEDDED_HUB": False,
                  "MARKETPLACE_URL": store_url}
        app = create_app(config)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS_DIR)
            users.create("admin", "bench password 123")
            result = catalog.refresh()
            if result.status == "failed":
                raise SystemExit(f"catalog refresh failed: {result.message}")

        print(f"{RUNS} runs each, min/median/max in ms; one process, loopback store, page cache warm")
        header = f"{'package':>9} {'panel install':>22} {'hashlib + zipfile':>22} {'ratio':>6}"
        print(header + (f" {'curl+sha256sum+unzip':>22} {'ratio':>6}" if tools else "  (curl/sha256sum/unzip absent)"))
        for size in sizes:
            slug = f"bench_{size}mb"
            release = store.entries()[slug].latest
            url = f"{store_url}/api/modules/{slug}/1.0.0/download"
            hashlib_zipfile(url, release.sha256, work)  # warm up both sides once
            panel_install(app, slug)
            ours, plain, stored, cli = [], [], [], []
            for _ in range(RUNS):
                plain.append(hashlib_zipfile(url, release.sha256, work))
                ours.append(panel_install(app, slug))
                stored.append(hashlib_zipfile_stored(url, release.sha256, work, work / "plain.db"))
                if tools:
                    cli.append(command_line(url, work))
            ratio = statistics.median(ours) / statistics.median(plain)
            line = f"{len(release.package) / 1e6:7.1f}MB {spread(ours):>22} {spread(plain):>22} {ratio:5.2f}x"
            if tools:
                line += f" {spread(cli):>22} {statistics.median(ours) / statistics.median(cli):5.2f}x"
            print(line, flush=True)
            print(f"{'':>9} {'':>22} {'+ bytes kept in SQLite':>22} "
                  f"{statistics.median(ours) / statistics.median(stored):5.2f}x  ({spread(stored)})", flush=True)
        print("goals: the largest package <= 1.5x curl + sha256sum + unzip (issue 3); read from disk at most twice "
              "(issue 14, tests/test_package_reads.py); hashlib + zipfile shown as the plainest baseline")
        server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
