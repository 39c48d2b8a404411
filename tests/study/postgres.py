"""A throwaway PostgreSQL server for tests and benchmarks (Debian's `postgresql` package).

    srv = PostgresServer.start()          # initdb in a temp dir, listens on 127.0.0.1 only
    url = srv.create_database("t1")       # postgresql+psycopg://salsav@127.0.0.1:PORT/t1
    srv.stop()                            # stops the server and removes its files

The binaries are looked up on PATH, then in /usr/lib/postgresql/<version>/bin (where Debian
puts them). PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
user the package creates. `durable=False` (tests) turns fsync off; benchmarks keep it on.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

USER = "salsav"


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    on_path = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(on_path):
        return Path(os.path.realpath(on_path[0])).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name)
                  if Path(d).parent.name.isdigit() else 0)
    for d in reversed(dirs):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    run_as: str | None

    @classmethod
    def start(cls, durable: bool = False, max_connections: int = 200) -> PostgresServer:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
        run_as = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="salsav-pg-"))
        if run_as:
            pw = pwd.getpwnam(run_as)
            os.chown(root, pw.pw_uid, pw.pw_gid)
        srv = cls(bin_dir, root / "data", _free_port(), run_as)
        try:
            srv._run("initdb", "-D", str(srv.data_dir), "-U", USER, "--auth=trust", "-E", "UTF8",
                     "--no-sync", "--locale=C")
            conf = {"listen_addresses": "'127.0.0.1'", "port": str(srv.port),
                    "unix_socket_directories": f"'{root}'", "max_connections": str(max_connections),
                    "shared_buffers": "128MB", "logging_collector": "off"}
            if not durable:  # a test database: nothing needs to survive a power cut
                conf.update(fsync="off", synchronous_commit="off", full_page_writes="off")
            with open(srv.data_dir / "postgresql.conf", "a") as f:
                f.writelines(f"{k} = {v}\n" for k, v in conf.items())
            srv._run("pg_ctl", "-D", str(srv.data_dir), "-l", str(root / "server.log"), "-w", "-t", "60",
                     "start")
        except BaseException:
            srv.stop()
            raise
        return srv

    def _run(self, prog: str, *args: str) -> None:
        r = subprocess.run([str(self.bin_dir / prog), *args], user=self.run_as, capture_output=True,
                           text=True, cwd=self.data_dir.parent, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{prog} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def drop_database(self, dbname: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log_tail(self, n: int = 4000) -> str:
        p = self.data_dir.parent / "server.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

