r"""Implicit differentiation of a solution: derivatives of x*(theta) from its fixed-point map.

A solver returns x*(theta) after a loop that JAX cannot (reverse mode) or should not
(forward mode, one JVP per iteration) differentiate. When x* is a fixed point of a map T,

.. math::

  x^\star(\theta) = T(x^\star(\theta), \theta),

and :math:`I - \partial_x T` is invertible there, the implicit function theorem gives its
derivative without looking at the loop:

.. math::

  (I - \partial_x T)\, \dot x = \partial_\theta T\, \dot\theta .

`implicit_solution` wraps any ``solve(theta) -> x*`` in a ``jax.custom_jvp`` whose tangent
rule solves this system matrix-free with ``jax.lax.custom_linear_solve``: JAX transposes
it for reverse mode, so ``jax.jvp``, ``jax.jacfwd``, ``jax.grad``, ``jax.vjp`` and
``jax.jacrev`` all work, under ``jit`` and ``vmap``. Each Krylov iteration costs one JVP of
T in x (for the maps below, one Hessian-vector product of f and the prox's Jacobian), so a
hypergradient costs about as much as the few dozen solver steps the linear solve takes.

The maps of subopt's optimizers (`fixed_point_map`):

* gradient descent: :math:`T(x) = x - t \nabla_x f(x, \mathrm{args})`, so
  :math:`I - \partial_x T = t \nabla^2 f` is symmetric: CG applies;
* ISTA, FISTA, ``sgd`` then `subopt.apply_prox`:
  :math:`T(x) = \mathrm{prox}_{t h_\lambda}(x - t \nabla_x f(x, \mathrm{args}))`. The prox's
  Jacobian J comes from JAX autodiff of the regularizer's ``prox`` (subopt's conventions at
  kinks: soft-thresholding has slope 0 on the dead zone, 1 outside, 1/2 exactly at the
  threshold, where the solution map itself has no derivative). :math:`I - J(I - t\nabla^2 f)`
  is not symmetric, hence GMRES by default.

Where the solution map is differentiable the result is its derivative, whatever t: for the
Lasso off the kinks of its path, :math:`\dot x_S = -(A_S^\top A_S/m)^{-1}\mathrm{sign}(x_S)
\dot\lambda` with :math:`\dot x = 0` off the support S. The step t has no influence on x*,
so it gets a zero derivative (it enters T through ``jax.lax.stop_gradient``); so does
anything ``solve`` uses that T does not (the start, the tolerance, the iteration cap).

References:
  Krantz and Parks, *The Implicit Function Theorem*, Birkhauser, 2002.
  Blondel et al., *Efficient and Modular Implicit Differentiation*, NeurIPS, 2022.
  Saad and Schultz, *GMRES: a generalized minimal residual algorithm*, SIAM J. Sci. Stat.
  Comput., 1986.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.sparse import linalg

from subopt._gmres import gmres
from subopt._info import combine, infos_of
from subopt._tree import tree_add_scale, tree_dtype, tree_sub

PyTree = Any
SOLVERS = ("auto", "cg", "normal_cg", "gmres", "bicgstab")


@dataclasses.dataclass(frozen=True)
class LinearSolver:
    r"""How the implicit system :math:`(I - \partial_x T)\dot x = b` is solved.

    Attributes:
      method: ``"auto"`` (CG where the system is symmetric, i.e. gradient descent; GMRES
        otherwise), ``"gmres"`` (restarted GMRES, `subopt._gmres`, any invertible system: the
        default for prox maps, whose system is not symmetric), ``"bicgstab"`` (BiCGStab: short
        recurrences, less memory than GMRES, less robust), ``"cg"`` (conjugate gradients,
        only for a symmetric positive definite system) or ``"normal_cg"`` (CG on the normal
        equations :math:`M^\top M \dot x = M^\top b`: any system, squares its condition
        number). All but GMRES from ``jax.scipy.sparse.linalg``; GMRES takes about 5x
        longer to compile than BiCGStab or CG.
      tol: the relative residual :math:`\|M\dot x - b\| \le \mathrm{tol}\,\|b\|` to reach
        (raised to 8 eps of the dtype, which is all a float32 system can give).
      maxiter: the most matrix-vector products (None: max(100, 2n), n the number of
        unknowns). A system that does not converge returns the last Krylov iterate.
      restart: the Krylov dimension of GMRES between restarts.

    Example:
      >>> import subopt as so
      >>> so.LinearSolver("bicgstab", tol=1e-8).method
      'bicgstab'
    """

    method: str = "auto"
    tol: float = 1e-6
    maxiter: int | None = None
    restart: int = 20

    def __post_init__(self):
        if self.method not in SOLVERS:
            raise ValueError(f"method must be one of {SOLVERS}, got {self.method!r}")
        if not (isinstance(self.tol, (int, float)) and 0 < self.tol < 1):
            raise ValueError(f"tol must be a number in (0, 1), got {self.tol!r}")
        for name in ("maxiter", "restart"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")

    def solve(self, symmetric: bool) -> Callable[[Callable, PyTree], PyTree]:
        """The ``(matvec, b) -> x`` function ``custom_linear_solve`` calls."""
        method = self.method
        if method == "auto":
            method = "cg" if symmetric else "gmres"

        def run(matvec, b):
            n = sum(np.size(v) for v in jax.tree_util.tree_leaves(b))
            budget = self.maxiter or max(100, 2 * n)
            tol = max(self.tol, 8 * float(jnp.finfo(tree_dtype(b)).eps))
            if method == "gmres":
                return gmres(matvec, b, tol=tol, restart=self.restart, maxiter=budget)
            if method == "bicgstab":
                return linalg.bicgstab(matvec, b, tol=tol, maxiter=budget)[0]
            if method == "cg":
                return linalg.cg(matvec, b, tol=tol, maxiter=budget)[0]
            # normal equations: M^T M x = M^T b, with M^T from transposing the linear matvec
            transpose = jax.linear_transpose(matvec, b)
            normal = lambda v: transpose(matvec(v))[0]  # noqa: E731
            return linalg.cg(normal, transpose(b)[0], tol=tol, maxiter=budget)[0]

        return run


def _zero_tangent(tree: PyTree) -> PyTree:
    """The zero tangent of ``tree``: float0 for integer and boolean leaves."""

    def zero(v):
        v = jnp.asarray(v)
        if jnp.issubdtype(v.dtype, jnp.inexact):
            return jnp.zeros_like(v)
        return np.zeros(v.shape, jax.dtypes.float0)

    return jax.tree_util.tree_map(zero, tree)


def _tangent(fixed_point, x, theta, dtheta, linear_solve, symmetric):
    r"""dx solving :math:`(I - \partial_x T)\,dx = \partial_\theta T\, d\theta` at (x, theta)."""
    _, rhs = jax.jvp(lambda th: fixed_point(x, th), (theta,), (dtheta,))
    _, t_x = jax.linearize(lambda z: fixed_point(z, theta), x)
    matvec = lambda v: tree_sub(v, t_x(v))  # noqa: E731  (I - dT) v
    return jax.lax.custom_linear_solve(
        matvec, rhs, linear_solve, transpose_solve=linear_solve, symmetric=symmetric
    )


def implicit_solution(
    solve: Callable[[PyTree], Any],
    fixed_point: Callable[[PyTree, PyTree], PyTree],
    theta: PyTree,
    *,
    solver: LinearSolver | None = None,
    symmetric: bool = False,
    has_aux: bool = False,
) -> Any:
    r"""``solve(theta)``, differentiable in theta through the fixed point x* = T(x*, theta).

    The value is ``solve(theta)`` unchanged (a loop, a while_loop, anything). Its derivative
    is defined by the implicit function theorem at the returned point, as if it were the
    exact fixed point:

    .. math::

      \dot x = (I - \partial_x T)^{-1} \partial_\theta T\, \dot\theta,

    solved matrix-free by ``solver`` inside ``jax.lax.custom_linear_solve`` (reverse mode
    solves the transposed system with the same method). Only T's dependence on theta
    matters: parts of theta that T does not read (a start, a step size it stops gradients
    of) get zero derivative.

    Args:
      solve: ``theta -> x*``, a pytree of floating arrays (or ``(x*, aux)`` with
        ``has_aux``; aux gets zero derivative). It is never differentiated.
      fixed_point: ``(x, theta) -> x``, the map T, a pytree like x*; JAX differentiates it.
      theta: a pytree of arrays, everything ``solve`` and ``fixed_point`` depend on. Both
        must read traced values from theta, not from a closure (JAX refuses to differentiate
        a ``custom_jvp`` function through closed-over values).
      solver: a `LinearSolver` (default ``LinearSolver()``: GMRES, or CG when
        ``symmetric``, relative tolerance 1e-6).
      symmetric: :math:`I - \partial_x T` is symmetric (e.g. T is a gradient step).
      has_aux: ``solve`` returns ``(x*, aux)``.

    Returns:
      ``solve(theta)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt._implicit import implicit_solution
      >>> def solve(a):  # x = cos(a x) by plain iteration
      ...     return jax.lax.fori_loop(0, 100, lambda _, x: jnp.cos(a * x), 0.0)
      >>> da = jax.grad(lambda a: implicit_solution(solve, lambda x, a: jnp.cos(a * x), a))
      >>> x = solve(0.5); exact = -x * jnp.sin(0.5 * x) / (1 + 0.5 * jnp.sin(0.5 * x))
      >>> bool(jnp.allclose(da(0.5), exact, rtol=1e-5))
      True
    """
    solver = LinearSolver() if solver is None else solver
    if not isinstance(solver, LinearSolver):
        raise TypeError(f"solver must be a subopt.LinearSolver, got {solver!r}")
    linear_solve = solver.solve(symmetric)

    @jax.custom_jvp
    def solution(theta):
        return solve(theta)

    @solution.defjvp
    def solution_jvp(primals, tangents):
        (theta,), (dtheta,) = primals, tangents
        out = solve(theta)
        x = out[0] if has_aux else out
        dx = _tangent(fixed_point, x, theta, dtheta, linear_solve, symmetric)
        if has_aux:
            return out, (dx, _zero_tangent(out[1]))
        return out, dx

    return solution(theta)


def fixed_point_map(fun: Callable[..., jax.Array]) -> Callable[[PyTree, PyTree], PyTree]:
    r"""The fixed-point map of a (proximal) gradient step on ``fun(x, *args) + sum h_i(x)``.

    .. math::

      T(x, \theta) = \mathrm{prox}_{t h}\bigl(x - t \nabla_x f(x, \mathrm{args})\bigr),
      \qquad \theta = (\mathrm{args}, h, t),

    with the identity for a missing h (``reg=None``: gradient descent). The step t enters
    through ``jax.lax.stop_gradient``: x* does not depend on it, so neither does its
    derivative. ``reg`` is a `subopt.prox` regularizer or a tuple of one (the form
    `subopt._info.combine` gives); its hyperparameters are differentiable leaves.

    Args:
      fun: the smooth part ``f(x, *args)``.

    Returns:
      ``T(x, (args, reg, step))``, each leaf in x's dtype.

    Raises:
      ValueError: ``reg`` holds more than one regularizer (the prox of a sum is not the
        composition of the proxes, so no fixed-point map is known).
    """

    def T(x, theta):
        args, reg, step = theta
        step = jax.lax.stop_gradient(step)
        if isinstance(reg, tuple):
            if len(reg) > 1:
                raise ValueError(
                    f"implicit differentiation needs at most one regularizer, got {len(reg)}"
                )
            reg = reg[0] if reg else None
        grad = jax.grad(fun)(x, *args)
        moved = tree_add_scale(x, -step, grad)
        if reg is None:
            return moved
        out = reg.prox(moved, step)
        return jax.tree_util.tree_map(lambda u, v: jnp.asarray(u).astype(v.dtype), out, x)

    return T


# --------------------------------------------------------------------------- subopt.run


def _regs(opt_state: PyTree) -> Any:
    return combine(infos_of(opt_state)).reg


def _names(opt_state: PyTree) -> str:
    """The optimizer's state types, to name it in an error (chain members in order)."""
    members = (
        opt_state
        if isinstance(opt_state, tuple) and not hasattr(opt_state, "_fields")
        else (opt_state,)
    )
    return ", ".join(type(m).__name__ for m in members)


def _no_map(opt_state: PyTree) -> TypeError:
    return TypeError(
        f"so.run cannot differentiate its solution for this optimizer (state "
        f"{_names(opt_state)}): it declares no fixed-point map (StepInfo.fixed_point is "
        "False, as for the subgradient methods and plain optax optimizers), so the implicit "
        "function theorem has no equation to differentiate. Use so.gradient_descent, "
        "so.proximal_gradient, so.fista or optax.chain(optax.sgd(t), so.apply_prox(reg, t)), "
        "which declare x* = T(x*); or wrap your own solver with "
        "subopt.implicit_solution(solve, fixed_point, theta)."
    )


def implicit_run(
    core: Callable[..., Any],
    fun: Callable,
    start: Any,
    args: tuple,
    *rest: Any,
    solver: LinearSolver | None = None,
) -> Any:
    r"""``core(start, args, *rest)`` (`subopt.run`'s compiled loop), with implicit derivatives.

    The primal is the loop's `subopt.Result`, untouched. Its tangent: ``params`` by the
    implicit function theorem at the optimizer's fixed-point map (`fixed_point_map`, with
    the regularizers and the step of the combined `subopt.StepInfo`: the regularizers' from
    the start state, so that derivatives reach their hyperparameters, the step from the final
    state), ``value`` = the JVP of :math:`F = f + \sum h` at (params, args, h) along it, and
    zero for everything else (steps, status, state). Only ``args`` and the regularizers'
    hyperparameters have an influence: ``x0``, the step, ``tol`` and ``max_steps`` get zero
    derivatives.

    Raises (when differentiated): TypeError for an optimizer without a fixed-point map.
    """
    solver = LinearSolver() if solver is None else solver

    @jax.custom_jvp
    def solution(theta):
        return core(*theta)

    @solution.defjvp
    def solution_jvp(primals, tangents):
        (theta,), (dtheta,) = primals, tangents
        if not combine(infos_of(theta[0].opt_state)).fixed_point:  # static: before the run
            raise _no_map(theta[0].opt_state)
        result = core(*theta)
        info = combine(infos_of(result.state.opt_state))
        step = info.step if info.step is not None else jnp.ones((), result.value.dtype)
        T = fixed_point_map(fun)

        def fixed_point(x, th):
            return T(x, (th[1], _regs(th[0].opt_state), step))

        def objective(x, th):
            regs = _regs(th[0].opt_state) or ()
            value = fun(x, *th[1])
            return value + sum(jnp.asarray(r.value(x)).astype(value.dtype) for r in regs)

        linear_solve = solver.solve(info.reg is None)
        dx = _tangent(fixed_point, result.params, theta, dtheta, linear_solve, info.reg is None)
        _, dvalue = jax.jvp(objective, (result.params, theta), (dx, dtheta))
        tangent = _zero_tangent(result)._replace(
            params=dx, value=jnp.asarray(dvalue).astype(result.value.dtype)
        )
        return result, tangent

    return solution((start, args, *rest))


__all__ = ["LinearSolver", "fixed_point_map", "implicit_run", "implicit_solution"]
