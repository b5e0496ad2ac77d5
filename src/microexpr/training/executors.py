"""Executors that run the engine's fold jobs, chosen by name.

``serial``
    One job after another in this process.
``local``
    Worker processes on this machine, ``workers`` of them (default
    ``cores // threads``) with ``threads`` torch threads each (default 1), so
    that the cores are not oversubscribed. Workers fork from a server that
    has imported torch once (spawned where there is no fork server). The
    experiment data are sent once to each worker (through a scratch file in
    the run folder), not with every job.
``ray``
    Ray tasks, on a cluster joined with ``address`` or on a local one that is
    started (and shut down) for the run. The data are put once in Ray's
    object store; tasks read them from there.

Every executor yields the same results for the same jobs: training is seeded
per job, and each job runs with the same number of torch threads whatever the
executor (``threads``, default 1). The thread count changes how sums are split
and so the last bits of the results, which training amplifies: runs made with
different ``threads`` agree only approximately. On a few cores, processes
with one thread each are also the fastest layout (small convolutions scale
poorly over threads). When a worker dies (killed, out of memory), the executor
raises :class:`WorkerDiedError`; results that arrived before are already
saved by :func:`~microexpr.training.engine.run_grid`, so rerunning the
command resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from microexpr._validation import check_positive_int
from microexpr.errors import ConfigError, MicroexprError
from microexpr.training.engine import (
    EngineData,
    Executor,
    FoldJob,
    FoldResult,
    SerialExecutor,
    plan_units,
    run_unit,
)
from microexpr.training.trainer import check_device

__all__ = [
    "EXECUTORS",
    "ExecutorError",
    "LocalExecutor",
    "RayExecutor",
    "WorkerDiedError",
    "make_executor",
]


class ExecutorError(MicroexprError):
    """An executor cannot start or reach its workers (bad Ray address...)."""


class WorkerDiedError(ExecutorError):
    """A worker process died (killed, out of memory) while running fold jobs."""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _died(who: str, units: Sequence[Sequence[FoldJob]]) -> WorkerDiedError:
    names = [job.name for unit in units for job in unit]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return WorkerDiedError(
        f"{who} died (killed, out of memory, or failed to start) with {len(names)} "
        f"unfinished fold job(s) ({shown}); finished folds are saved in the run folder: "
        "rerun the same command to resume (with fewer workers if memory ran out)"
    )


# ---------------------------------------------------------------- local processes

_WORKER_DATA: EngineData | None = None
_WORKER_THREADS: int | None = None


def _init_worker(data_file: str, threads: int) -> None:
    global _WORKER_DATA, _WORKER_THREADS
    import torch

    torch.set_num_threads(threads)
    with open(data_file, "rb") as fh:
        _WORKER_DATA = pickle.load(fh)
    _WORKER_THREADS = threads


def _write_data(data: EngineData, workdir: Path | None) -> Path:
    """Pickle ``data`` once into a scratch file that every worker reads at start.

    Not through the pool's initargs: those go down the spawn pipe while the
    parent still holds its read end (CPython 3.11), so a worker that dies on
    start-up before reading them all blocks the parent forever.
    """
    folder = Path(workdir) if workdir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".engine-data-", suffix=".pkl", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(name)


def _worker_context() -> multiprocessing.context.BaseContext:
    """Forkserver with torch and the engine preloaded, or spawn where there is none.

    Not fork: a child forked from a process that has trained inherits torch's
    thread pools in a broken state. The fork server imports torch once and
    never trains, so workers fork from it in milliseconds instead of each
    importing torch (seconds), and it stays up for later runs.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "microexpr.training.engine"])
    return context


def _run_unit_in_worker(unit: list[FoldJob]) -> list[FoldResult]:
    if _WORKER_DATA is None:
        raise RuntimeError("worker was not initialised with the experiment data")
    return run_unit(unit, _WORKER_DATA, threads=_WORKER_THREADS)


class LocalExecutor:
    """Runs jobs in worker processes on this machine.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default ``max(1, cores // threads)``, at most the
        number of units of work).
    threads : int
        Torch threads per worker (default 1).
    """

    def __init__(self, workers: int | None = None, threads: int = 1) -> None:
        self.workers = None if workers is None else check_positive_int(workers, "workers")
        self.threads = check_positive_int(threads, "threads")

    def run(
        self, jobs: Sequence[FoldJob], data: EngineData, *, workdir: Path | None = None
    ) -> Iterator[FoldResult]:
        """Run ``jobs``, yielding results in the order they finish."""
        units = plan_units(jobs, data)
        if not units:
            return
        check_device(data.settings.device)
        workers = min(self.workers or max(1, _cores() // self.threads), len(units))
        data_file = _write_data(data, workdir)
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_worker_context(),
            initializer=_init_worker,
            initargs=(str(data_file), self.threads),
        )
        pending: dict[Future[list[FoldResult]], list[FoldJob]] = {}
        clean = False
        try:
            for i, unit in enumerate(units):
                try:
                    pending[pool.submit(_run_unit_in_worker, unit)] = unit
                except BrokenProcessPool:
                    raise _died("a worker process", [*pending.values(), *units[i:]]) from None
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    unit = pending.pop(future)
                    try:
                        results = future.result()
                    except BrokenProcessPool:
                        pending[future] = unit
                        broken = True
                        continue
                    yield from results
                if broken:
                    raise _died("a worker process", list(pending.values()))
            clean = True
        finally:
            _stop_pool(pool, kill=not clean)
            data_file.unlink(missing_ok=True)


def _stop_pool(pool: ProcessPoolExecutor, *, kill: bool) -> None:
    if kill:
        # an error or interrupt in the parent: workers must not go on training unobserved
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- Ray

_RAY_TEMP_MAX = 40  # Ray adds ~65 characters below its temp dir; unix sockets allow ~107


def _ray_temp_dir(workdir: Path | None) -> tuple[str, bool]:
    """A short folder for Ray's session files; True when it must be removed afterwards."""
    if workdir is not None:
        candidate = (Path(workdir) / "ray").resolve()
        if len(str(candidate)) <= _RAY_TEMP_MAX:
            candidate.mkdir(parents=True, exist_ok=True)
            return str(candidate), False
    return tempfile.mkdtemp(prefix="mxray"), True


def _check_reachable(address: str, timeout: float) -> None:
    """Fail fast when ``host:port`` of a Ray address does not answer."""
    if address in ("auto", "local"):
        return
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ExecutorError(
            f"Ray address must be host:port, ray://host:port or auto, got {address!r}"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach the Ray cluster at {address!r} within {timeout:g} s ({exc}); "
            "check the address (the head node's `ray start --head` prints it), or omit "
            "--address to start a local cluster"
        ) from None


def _ray_task(unit: list[FoldJob], data: EngineData, threads: int) -> list[FoldResult]:
    return run_unit(unit, data, threads=threads)


class RayExecutor:
    """Runs jobs as Ray tasks.

    Parameters
    ----------
    address : str, optional
        Address of a running cluster (``host:port``, ``ray://host:port`` or
        ``auto``); when None a local cluster is started for the run and shut
        down afterwards.
    workers : int, optional
        Tasks run at once on the local cluster (it gets ``workers * threads``
        CPUs; default: all cores); ignored with ``address``.
    threads : int, optional
        CPUs reserved and torch threads used by each task (default 1).
    gpus : float, optional
        GPUs reserved by each task (default 1 when training on CUDA, else 0).
    temp_dir : str, optional
        Ray's session folder for a local cluster (default ``<run folder>/ray``
        when that path is short enough for Ray's sockets, else a temporary
        folder removed afterwards).
    connect_timeout : float
        Seconds to wait for ``address`` to answer.
    max_retries : int
        Times Ray reruns a task whose worker died (default 0: report at once).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        gpus: float | None = None,
        temp_dir: str | None = None,
        connect_timeout: float = 10.0,
        max_retries: int = 0,
    ) -> None:
        self.address = address
        self.workers = None if workers is None else check_positive_int(workers, "workers")
        self.threads = 1 if threads is None else check_positive_int(threads, "threads")
        self.gpus = gpus
        self.temp_dir = temp_dir
        self.connect_timeout = float(connect_timeout)
        self.max_retries = check_positive_int(max_retries, "max_retries", minimum=0)
        if address is not None:  # fail before hours of preprocessing, not after
            _check_reachable(address, self.connect_timeout)

    def _connect(self, workdir: Path | None) -> tuple[bool, str | None]:
        """Initialise Ray; return whether this call started it and a folder to remove."""
        try:
            import ray
        except ImportError:
            raise ExecutorError("the ray executor needs Ray: pip install 'ray>=2.9'") from None
        if self.address is not None:
            _check_reachable(self.address, self.connect_timeout)
        if ray.is_initialized():
            return False, None
        if self.address is not None:
            try:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
                raise ExecutorError(
                    f"cannot join the Ray cluster at {self.address!r}: {exc}"
                ) from None
            return True, None
        temp_dir, remove = (self.temp_dir, False) if self.temp_dir else _ray_temp_dir(workdir)
        try:
            ray.init(
                num_cpus=self.workers * self.threads if self.workers else _cores(),
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                _temp_dir=temp_dir,
            )
        except Exception as exc:
            if remove:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise ExecutorError(f"cannot start a local Ray cluster: {exc}") from None
        return True, temp_dir if remove else None

    def run(
        self, jobs: Sequence[FoldJob], data: EngineData, *, workdir: Path | None = None
    ) -> Iterator[FoldResult]:
        """Run ``jobs``, yielding results in the order they finish."""
        units = plan_units(jobs, data)
        if not units:
            return
        import ray

        started, scratch = self._connect(workdir)
        try:
            yield from self._run(ray, units, data)
        finally:
            if started:
                ray.shutdown()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _run(self, ray: Any, units: list[list[FoldJob]], data: EngineData) -> Iterator[FoldResult]:
        import torch

        gpus = self.gpus
        if gpus is None:
            gpus = 1.0 if torch.device(data.settings.device).type == "cuda" else 0.0
        task = ray.remote(_ray_task).options(
            num_cpus=self.threads, num_gpus=gpus, max_retries=self.max_retries
        )
        data_ref = ray.put(data)  # once: tasks resolve the reference from the object store
        refs = {task.remote(unit, data_ref, self.threads): unit for unit in units}
        clean = False
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=None)
                for ref in ready:
                    unit = refs.pop(ref)
                    try:
                        results = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = exc.as_instanceof_cause()
                        if isinstance(cause, MicroexprError):
                            raise cause from None
                        raise
                    except (
                        ray.exceptions.WorkerCrashedError,
                        ray.exceptions.OutOfMemoryError,
                        ray.exceptions.NodeDiedError,
                        ray.exceptions.ObjectLostError,
                    ) as exc:
                        refs[ref] = unit
                        cause = f"a Ray worker ({type(exc).__name__})"
                        raise _died(cause, list(refs.values())) from None
                    yield from results
            clean = True
        finally:
            if not clean:
                for ref in refs:
                    ray.cancel(ref, force=True)


# ---------------------------------------------------------------- registry

EXECUTORS: dict[str, Callable[..., Executor]] = {
    "serial": lambda threads=1, workers=None: SerialExecutor(
        check_positive_int(threads, "threads")
    ),
    "local": lambda workers=None, threads=1: LocalExecutor(workers, threads),
    "ray": lambda **options: RayExecutor(**options),
}


def make_executor(kind: str, **options: Any) -> Executor:
    """Build the executor called ``kind`` with its options (unset ones dropped).

    Parameters
    ----------
    kind : str
        ``serial``, ``local`` or ``ray``.
    **options
        ``workers``, ``threads`` (all); ``address``, ``gpus``, ``temp_dir``,
        ``connect_timeout``, ``max_retries`` (ray); ``workers`` is ignored by
        ``serial``. An option the executor does not take is an error.
    """
    if kind not in EXECUTORS:
        raise ConfigError(f"executor must be one of {sorted(EXECUTORS)}, got {kind!r}")
    options = {k: v for k, v in options.items() if v is not None}
    if "address" in options and kind != "ray":
        raise ConfigError(f"address is an option of the ray executor, not of {kind!r}")
    try:
        return EXECUTORS[kind](**options)
    except TypeError as exc:
        raise ConfigError(f"executor {kind!r}: {exc}") from None
