"""A PostgreSQL cluster of a test's own (``initdb`` in a temporary directory, its own port),
for tests that stop and start the server: the shared one must never be stopped."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tests.support.processes import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

SERVER_USER = "postgres"  # initdb refuses root: as root, the cluster runs as this user


def binaries() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` directory, if there is one with initdb."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else None


@dataclass
class Cluster:
    bin_dir: Path
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *command: str) -> None:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, *command], check=True, capture_output=True, timeout=60, cwd=self.directory
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self.run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "server.log"), "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, as an operator's restart or a failover does."""
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """``initdb``, start; yield; stop (if running) and remove everything."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    directory = Path(tempfile.mkdtemp(prefix="gateway-cluster-"))
    if os.geteuid() == 0:
        server = pwd.getpwnam(SERVER_USER)
        os.chown(directory, server.pw_uid, server.pw_gid)
    cluster = Cluster(bin_dir, directory, free_port())
    try:
        cluster.run(
            str(bin_dir / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        cluster.start()
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):  # not running
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
