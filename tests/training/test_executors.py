import os
import time
from dataclasses import replace

import pytest
from tiny_grid import DieOnLoad, DyingSpec, tiny_data

from microexpr.errors import ConfigError
from microexpr.training.engine import RunStore, make_jobs, run_grid
from microexpr.training.executors import (
    ExecutorError,
    LocalExecutor,
    RayExecutor,
    WorkerDiedError,
    make_executor,
)


def _key(results):
    return [(r.variant, r.fold, r.seed, r.y_pred, r.proba, r.losses) for r in results]


@pytest.fixture(scope="module")
def grid():
    data = tiny_data(n_subjects=3, clips=4, epochs=2, variants=("atscnn", "atscnn_uv"))
    return data, make_jobs(data.variants, data.folds, [0])


@pytest.fixture(scope="module")
def serial_results(grid):
    data, jobs = grid
    return run_grid(jobs, data, make_executor("serial"))


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=str(tmp_path_factory.mktemp("r")),
    )
    yield ray
    ray.shutdown()


def test_make_executor_unknown_kind():
    with pytest.raises(ConfigError, match="executor must be one of .*'local'.*got 'spark'"):
        make_executor("spark")


def test_make_executor_address_only_for_ray():
    with pytest.raises(
        ConfigError, match="address is an option of the ray executor, not of 'local'"
    ):
        make_executor("local", address="10.0.0.1:6379")


def test_make_executor_bad_workers():
    with pytest.raises(ConfigError, match="workers == 0, must be >= 1"):
        make_executor("local", workers=0)


def test_local_matches_serial(grid, serial_results):
    data, jobs = grid
    results = run_grid(jobs, data, make_executor("local", workers=2))
    assert _key(results) == _key(serial_results)


def test_ray_matches_serial(grid, serial_results, ray_cluster):
    data, jobs = grid
    results = run_grid(jobs, data, make_executor("ray"))
    assert _key(results) == _key(serial_results)
    assert ray_cluster.is_initialized()  # a cluster it did not start is left running


def test_ray_unreachable_address_fails_fast(grid):
    data, jobs = grid
    start = time.perf_counter()
    # port 9 (discard) on localhost: nothing listens, the connection is refused
    with pytest.raises(ExecutorError, match="cannot reach the Ray cluster at '127.0.0.1:9'"):
        list(RayExecutor(address="127.0.0.1:9", connect_timeout=2).run(jobs, data))
    assert time.perf_counter() - start < 10


def test_ray_bad_address_format(grid):
    data, jobs = grid
    with pytest.raises(ExecutorError, match="Ray address must be host:port"):
        list(RayExecutor(address="nohostport").run(jobs, data))


def test_local_dead_worker_keeps_finished_folds(grid, tmp_path):
    data, jobs = grid
    store = RunStore(tmp_path, {"dead": 1})
    # the first fold ran before and must survive; then every worker dies on its job
    store.save(run_grid(jobs[:1], data, make_executor("serial"))[0])
    # one fold a unit: the parent plans stacked units by building the model, which would kill it
    dying = replace(
        data,
        variants={k: DyingSpec(v.name, v.options) for k, v in data.variants.items()},
        settings=replace(data.settings, fold_batching="never"),
    )
    start = time.perf_counter()
    with pytest.raises(WorkerDiedError, match=r"worker process died .* unfinished fold job"):
        run_grid(jobs, dying, LocalExecutor(workers=2), store=store)
    assert time.perf_counter() - start < 60
    assert store.load(jobs[0]) is not None
    assert store.load(jobs[1]) is None


def test_local_worker_dying_at_start_does_not_hang(grid, tmp_path):
    data, jobs = grid
    broken = replace(data, variants={**data.variants, "x": DieOnLoad()})
    start = time.perf_counter()
    with pytest.raises(WorkerDiedError, match="failed to start"):
        run_grid(jobs, broken, LocalExecutor(workers=2), store=RunStore(tmp_path, {"d": 3}))
    assert time.perf_counter() - start < 60
    assert not list(tmp_path.glob(".engine-data-*"))  # scratch data removed


def test_ray_dead_worker_clear_error(grid, ray_cluster, tmp_path):
    import tiny_grid

    # Ray workers do not see pytest's sys.path: ship the test module by value
    ray_cluster.cloudpickle.register_pickle_by_value(tiny_grid)
    data, jobs = grid
    store = RunStore(tmp_path, {"dead": 2})
    store.save(run_grid(jobs[:1], data, make_executor("serial"))[0])
    # one fold a unit: the parent plans stacked units by building the model, which would kill it
    dying = replace(
        data,
        variants={k: DyingSpec(v.name, v.options) for k, v in data.variants.items()},
        settings=replace(data.settings, fold_batching="never"),
    )
    start = time.perf_counter()
    with pytest.raises(WorkerDiedError, match=r"a Ray worker \(\w+\) died .* unfinished fold job"):
        run_grid(jobs, dying, make_executor("ray"), store=store)
    assert time.perf_counter() - start < 60
    assert store.load(jobs[0]) is not None
    assert ray_cluster.is_initialized()
