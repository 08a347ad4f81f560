"""Distributed search: a real PostgreSQL server (Debian's), started by the test in a
temporary folder on a local port, and two `tinyflow loop` worker processes, each
driving its own emulated board, sharing one study."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from test_loop import PROJECT, write_project

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the 'postgres' user then."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own: data and socket in a temporary folder, on a free
    port of 127.0.0.1 only; stopped and removed afterwards."""
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (scripts/setup)")
    # Not under pytest's tmp_path: its parents are private to root, and the server
    # runs as the 'postgres' user.
    folder = Path(tempfile.mkdtemp(prefix="tinyflow-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (folder, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = _free_port()
    subprocess.run(_as_server_user([str(initdb), "-D", str(data), "-U", "tinyflow",
                                    "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l",
                                    str(folder / "pg.log"), "-o",
                                    f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1",
                                    "start"]), check=True, capture_output=True)
    try:
        subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", "tinyflow", "loop"], check=True, capture_output=True)
        yield f"postgresql://tinyflow@127.0.0.1:{port}/loop"
    finally:
        subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                                        "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_study_on_postgresql(tmp_path, postgres):
    project_dir = tmp_path / "project"
    path = write_project(project_dir, PROJECT.replace('trials = 2', 'trials = 3'))
    tinyflow = str(Path(sys.executable).with_name("tinyflow"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    workers = [subprocess.Popen([tinyflow, "loop", str(path), "--storage", postgres,
                                 "--board", "qemu-cortex-m4", "--json",
                                 str(tmp_path / f"worker{i}.json")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
               for i in range(2)]
    started = time.monotonic()
    outputs = [w.communicate(timeout=900) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode in (0, 1), err.decode()[-2000:]
        assert b"Traceback" not in err, err.decode()[-2000:]

    import optuna

    study = optuna.load_study(study_name="quick", storage=postgres)
    records = [t.user_attrs["record"] for t in study.trials if "record" in t.user_attrs]
    assert len(records) >= 3, records
    assert len({r["worker"] for r in records}) == 2, [err.decode()[-1500:] for _, err in outputs]
    assert all(r["state"] == "complete" for r in records), [r["error"] for r in records]
    # Each worker's report is the whole shared study.
    final = json.loads((tmp_path / "worker1.json").read_text())
    assert len(final["trials"]) >= 3
    print(f"two workers, {len(records)} trials, {time.monotonic() - started:.0f} s")
