"""Locks that let two `mlops pipeline run` processes share a machine without mixing or corrupting each other's state.

- A run folder (`--out`) is written by one run at a time: a second run into it is refused with one line.
- The local MLflow store (sqlite) is created and migrated by one process at a time: MLflow's own schema migration
  is not safe against a concurrent first use (two processes both run the alembic upgrade and one fails with
  "duplicate column name" or leaves `_alembic_tmp_*` tables behind).

POSIX advisory locks (fcntl.flock): released by the kernel when the process ends, however it ends, so a crashed
run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from mlops.errors import UserError

RUN_LOCK = ".mlops-run.lock"


@contextlib.contextmanager
def exclusive(path: Path, busy: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block. With `busy`, a lock held by another process is a UserError
    with that message; without, the call waits for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if busy else 0))
        except BlockingIOError:
            raise UserError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_folder(work_dir: Path) -> contextlib.AbstractContextManager[None]:
    """The lock of one run folder; a second run into it fails at once, naming the folder."""
    return exclusive(
        work_dir / RUN_LOCK,
        busy=f"--out {work_dir}: another `mlops pipeline run` is writing into this folder; "
        "wait for it to finish or choose another --out",
    )


def init_tracking_store(uri: str, experiment: str) -> None:
    """Create (and migrate) a local sqlite MLflow store and its experiment, one process at a time; later runs
    find both ready and only add rows, which sqlite serialises itself."""
    if not uri.startswith("sqlite:///"):
        return  # a tracking server migrates its own store
    import mlflow

    database = Path(uri.removeprefix("sqlite:///"))
    with exclusive(database.with_name(database.name + ".lock")):
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
