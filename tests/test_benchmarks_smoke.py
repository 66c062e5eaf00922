"""The benchmark suite cannot rot: a seconds-long ``--quick`` run of every comparison."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parent.parent


def _results_listing() -> dict:
    folder = ROOT / "benchmarks" / "results"
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.exists() else {}


def _benchmark_modules() -> set[str]:
    """Every ``benchmarks/<name>.py`` that defines ``run``, read from the files themselves.

    ``benchmarks`` is not an installed package, so the test reads the folder instead of
    importing it (CI runs ``pytest`` on a non-editable install, with ``tests/`` on the path).
    """
    folder = ROOT / "benchmarks"
    return {
        p.stem
        for p in folder.glob("*.py")
        if not p.stem.startswith("_") and "def run(" in p.read_text()
    }


def test_quick_benchmark_run_writes_every_comparison(tmp_path):
    before = _results_listing()
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    payload = json.loads((tmp_path / "quick.json").read_text())
    modules = {r["module"] for r in payload["records"]}
    assert modules == _benchmark_modules()
    assert {"overhead", "lasso_jaxopt", "lasso_grid", "logreg_grid", "scaling"} <= modules
    # a smoke run leaves the tree as it was: nothing written into benchmarks/results
    assert _results_listing() == before
    # every target is judged, and a miss is marked as one
    for record in payload["records"]:
        if "target" in record:
            assert "met)" in proc.stdout or "MISSED)" in proc.stdout
    for record in payload["records"]:
        if "same_result" in record:  # the compared solvers reached the same point
            assert record["same_result"], record["comparison"]
        for gap in record.get("max_rel_gap", {}).values():
            assert gap < 1e-6, record["comparison"]


def test_quick_run_without_out_writes_outside_the_tree():
    before = _results_listing()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "overhead"],
        cwd=ROOT,
        env=dict(os.environ, MPLBACKEND="Agg"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "target <= 1.05: " in proc.stdout  # judged: met or MISSED, never silent
    assert _results_listing() == before


def test_plot_without_matplotlib_fails_before_solving(tmp_path):
    """``python -m subopt --plot`` checks for matplotlib first and exits non-zero."""
    script = (
        "import sys, runpy; sys.modules['matplotlib'] = None; "
        f"sys.argv = ['subopt', '--plot', {str(tmp_path / 'never.png')!r}]; "
        "runpy.run_module('subopt', run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "--plot needs matplotlib" in proc.stderr
    assert "solving" not in proc.stderr and not (tmp_path / "never.png").exists()
