"""A throwaway PostgreSQL server for the tests: its own data folder, a loopback port, stopped by its id.

Debian's `postgresql` package puts the server in /usr/lib/postgresql/<major>/bin. PostgreSQL
refuses to run as root, so as root the server runs as the `postgres` user the package creates.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = ("PostgreSQL is not installed: `apt-get install postgresql` (Debian) runs these tests too; "
                "CI always has it.")


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """`start()`, then `url(database)`; `stop()` ends the server by its process id and removes its files."""

    def __init__(self):
        self.bin = server_binaries()
        if self.bin is None:
            raise FileNotFoundError(INSTALL_HINT)
        self.folder = Path(tempfile.mkdtemp(prefix="panel-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.pid = None

    def _run(self, *args, **kwargs):
        command = [str(a) for a in args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs)

    def start(self) -> "PostgresServer":
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "server.log",
                  "-w", "-t", "60", "start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
                             autocommit=True) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)  # "fast" shutdown
                for _ in range(100):
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.folder, ignore_errors=True)
