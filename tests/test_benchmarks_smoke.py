"""The benchmark suite cannot rot: a seconds-long ``--quick`` run of every comparison."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parent.parent


def test_quick_benchmark_run_writes_every_comparison(tmp_path):
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
    assert modules == {"overhead", "lasso_jaxopt", "lasso_grid", "logreg_grid", "scaling",
                       "glm_lasso", "glm_path", "glm_logistic"}
    for record in payload["records"]:
        if "same_result" in record:  # the compared solvers reached the same point
            assert record["same_result"], record["comparison"]
        for gap in record.get("max_rel_gap", {}).values():
            assert gap < 1e-6, record["comparison"]
