"""Shared test setup: x64 on (float32 tests ask for float32 explicitly), hypothesis profile,
and one persistent compilation cache for the whole run."""

import os
import shutil
import tempfile

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)


_OWN_CACHE: list[str] = []  # the cache directory this process made (the controller's)


def pytest_configure(config):
    """One JAX compilation cache per test run, shared by the xdist workers and the
    subprocesses (examples, README blocks, benchmark smoke runs) through the environment:
    a program compiled by one process is loaded by the others (a user's own
    ``JAX_COMPILATION_CACHE_DIR`` is kept)."""
    if not hasattr(config, "workerinput") and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        _OWN_CACHE.append(tempfile.mkdtemp(prefix="subopt-jax-cache-"))
        os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE[0]
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])


def pytest_unconfigure(config):
    for path in _OWN_CACHE:
        os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
        shutil.rmtree(path, ignore_errors=True)


# The files that take longest (about 60-130 s each on 2 cores: compiles, subprocesses) run
# first, so that none of them starts last and runs alone while the other workers are idle
# (longest-processing-time-first scheduling; xdist hands out files in collection order).
_SLOW_FIRST = (
    "test_linear_model.py",
    "test_examples.py",
    "test_reliability.py",
    "test_benchmarks_smoke.py",
    "test_readme.py",
    "test_linear_model_estimators.py",
    "test_implicit_run.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(_SLOW_FIRST)}
    # a stable sort: the order of the tests inside each file is kept
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """Run a test in both float precisions."""
    return jax.numpy.dtype(request.param)
