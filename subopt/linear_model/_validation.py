"""Input checks of the host-side GLM entry points: concrete bad values raise ValueError naming
the argument (alpha < 0, X and y with mismatched rows, NaN or inf in X or y, labels that are
not two classes, negative counts)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt.linear_model._design import SparseDesign, as_design, column_norms_jit, is_sparse


def default_dtype() -> Any:
    """float64 when JAX runs in x64 mode, else float32 (no array is built: an eager jnp op
    costs ~0.1 ms, a tenth of a small fit)."""
    return np.dtype(np.float64 if jax.config.read("jax_enable_x64") else np.float32)


def _values(x: Any) -> np.ndarray:
    if isinstance(x, SparseDesign):
        return np.asarray(x.data)
    if is_sparse(x):
        return np.asarray(x.tocoo().data)
    return np.asarray(x)


def check_xy(X: Any, y: Any, dtype: Any = None) -> tuple[Any, np.ndarray, Any, jax.Array]:
    """``(design, y, dtype, column norms)`` from user input, after the checks of the module
    docstring. y stays a host array of ``dtype`` (the solver's jit moves it; an eager
    conversion to a ``jax.Array`` costs ~0.1 ms, a few percent of a small fit).

    The column norms, which the solvers need, are computed here in one pass over X: for an
    X already on the device they are also its finiteness check (a NaN or inf entry makes its
    column's norm non-finite; only then is X searched, so that an overflowing but finite X
    is not reported as NaN), which saves the separate pass and two dispatches.
    """
    if isinstance(X, jax.Array):  # keep it on the device; check it there
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-d array (n_samples, n_features), got shape {X.shape}")
    elif not (isinstance(X, SparseDesign) or is_sparse(X)):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-d array (n_samples, n_features), got shape {X.shape}")
    y_np = np.asarray(y)
    if y_np.ndim != 1:
        raise ValueError(f"y must be a 1-d array (n_samples,), got shape {y_np.shape}")
    if X.shape[0] != y_np.shape[0]:
        raise ValueError(
            f"X and y have mismatched rows: X has {X.shape[0]} samples, y has {y_np.shape[0]}"
        )
    if X.shape[1] == 0:
        raise ValueError("X has no features (0 columns)")
    checks = [("y", y_np)] if isinstance(X, jax.Array) else [("X", _values(X)), ("y", y_np)]
    for name, v in checks:
        if not np.issubdtype(v.dtype, np.number) and v.dtype != bool:
            raise ValueError(f"{name} must be numeric, got dtype {v.dtype}")
        if v.size and not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains NaN or inf")
    dtype = default_dtype() if dtype is None else np.dtype(dtype)
    design = as_design(X, dtype)
    norms = column_norms_jit(design)
    if isinstance(X, jax.Array) and not np.all(np.isfinite(np.asarray(norms))):
        if not bool(jnp.all(jnp.isfinite(X))):
            raise ValueError("X contains NaN or inf")
    return design, np.asarray(y_np, dtype), dtype, norms


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    value = float(alpha)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {alpha!r}")
    return value


def check_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, y in {-1, +1})`` for binary labels; one class is a ValueError."""
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    if classes.size < 2:
        raise ValueError(
            f"y must hold two classes for logistic regression, got one class: {classes.tolist()}"
        )
    if classes.size > 2:
        raise ValueError(f"y must hold two classes here, got {classes.size}")
    return classes, np.where(codes == 1, 1.0, -1.0)


def check_counts(y: Any) -> None:
    y = np.asarray(y)
    if np.any(y < 0):
        raise ValueError("y must hold counts >= 0 for Poisson regression, got negative values")
    if not np.any(y > 0):
        raise ValueError("y must have at least one positive count for Poisson regression")


def sample_weights(sample_weight: Any, n: int, dtype: Any) -> np.ndarray:
    """The datafit weights: 1/n each by default, else ``sample_weight / sum(sample_weight)``,
    as a host array of ``dtype`` (as y in `check_xy`)."""
    if sample_weight is None:
        return np.full((n,), 1 / n, dtype)
    sw = np.asarray(sample_weight, float)
    if sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    if np.any(sw < 0) or not np.all(np.isfinite(sw)) or sw.sum() <= 0:
        raise ValueError("sample_weight must be finite, >= 0, and not all 0")
    return np.asarray(sw / sw.sum(), dtype)
