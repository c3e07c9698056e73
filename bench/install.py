"""Install a 50 MB module package through the pipeline vs `sha256sum` + `unzip` of the same file.

The pipeline does more than the baseline (validate every entry, sha256, bounded extraction with
O_EXCL files, journal, atomic swap, module load, database record), so the goal is a ratio ≤ 1.5×.
Run: .venv/bin/python bench/install.py
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 5
PAYLOAD_FILES = 10
PAYLOAD_BYTES = 49 * 1024 * 1024  # the package stays just under the default 50 MB limit


def build_package(path: Path) -> None:
    manifest = {"slug": "bigmod", "name": "Big module", "version": "1.0.0", "author": "bench",
                "requires_core": ">=1.0"}
    chunk = PAYLOAD_BYTES // PAYLOAD_FILES
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("bigmod/module.json", json.dumps(manifest))
        zf.writestr("bigmod/__init__.py", "def setup(api):\n    pass\n")
        for i in range(PAYLOAD_FILES):
            zf.writestr(f"bigmod/static/blob{i:02d}.bin", os.urandom(chunk))  # incompressible
        for i in range(200):  # and some small source-like files
            zf.writestr(f"bigmod/lib/part{i:03d}.py", f"VALUE_{i} = {i!r}\n" * 40)


def baseline(package: Path, work: Path) -> float:
    target = work / "unzip-out"
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(["sha256sum", str(package)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["unzip", "-q", "-o", str(package), "-d", str(target)], check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target, ignore_errors=True)
    return elapsed


def main() -> None:
    import logging

    import flask_migrate

    logging.disable(logging.WARNING)
    from panel import MIGRATIONS_DIR, create_app
    from panel.extensions import db
    from panel.installer import install_package, uninstall

    work = Path(tempfile.mkdtemp(prefix="bench-install-"))
    try:
        config = {"TESTING": True, "INSTANCE_PATH": str(work / "instance"), "SECRET_KEY": "bench",
                  "EMBEDDED_HUB": False}
        app = create_app(config)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS_DIR)
            db.engine.dispose()
        app = create_app(config)
        package = work / "bigmod.zip"
        build_package(package)
        size = package.stat().st_size
        baseline(package, work)  # warm the page cache for both sides

        ours, theirs = [], []
        for _ in range(RUNS):
            theirs.append(baseline(package, work))
            with app.app_context():
                start = time.perf_counter()
                install_package(package, "bench")
                ours.append(time.perf_counter() - start)
                uninstall("bigmod", "bench", delete_data=True)
        ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
        print(f"package: {size / 1e6:.1f} MB ({PAYLOAD_FILES} incompressible files + 200 small ones), {RUNS} runs, medians")
        print(f"sha256sum + unzip : {theirs_s * 1000:8.1f} ms")
        print(f"install_package   : {ours_s * 1000:8.1f} ms")
        print(f"ratio             : {ours_s / theirs_s:8.2f}x  (goal <= 1.5x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
