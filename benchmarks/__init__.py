"""subopt's benchmark suite: side-by-side comparisons in one process (``python -m benchmarks``).

Each module exposes ``run(quick: bool) -> list[dict]``; `benchmarks.__main__` runs them all,
prints a table of median times and ratios, and writes JSON and PNG plots to
``benchmarks/results/``. ``--quick`` is a seconds-long smoke run (CI uses it).
"""
