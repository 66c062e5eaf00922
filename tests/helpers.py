"""The one catalogue of test problems, optimizers and dtypes, and the one trace counter.

Test files import from here (``from helpers import ...``; pytest puts tests/ on the path).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import subopt as so

DTYPES = (jnp.float32, jnp.float64)


def ar_design(seed=0, n=48, p=64, rho=0.5, n_support=5, scale=2.0):
    """A GLM design with AR(rho)-correlated columns, a sparse ``n_support``-feature truth w
    (normal entries times ``scale``) and the generator: ``(x, w, rng)``."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, p))
    x = z.copy()
    for j in range(1, p):
        x[:, j] = rho * x[:, j - 1] + np.sqrt(1 - rho**2) * z[:, j]
    w = np.zeros(p)
    w[rng.choice(p, n_support, replace=False)] = rng.standard_normal(n_support) * scale
    return x, w, rng


# f(x) = 1/2 sum_i q_i (x_i - c_i)^2 (L = 1, no method lands on the optimum in one step), and
# its nonsmooth twin ||x - c||_1 for the subgradient methods
C = np.array([1.0, -2.0, 0.5])
Q = np.array([1.0, 0.5, 0.2])


def smooth(x):
    c, q = jnp.asarray(C, x.dtype), jnp.asarray(Q, x.dtype)
    return 0.5 * jnp.sum(q * (x - c) ** 2)


def sharp(x):
    c = jnp.asarray(C, x.dtype)
    return so.nonsmooth.l1_norm(x - c)


def smooth_data(x, c, q):
    """`smooth` with its data as arguments: ``so.run(opt, smooth_data, x0, c, q)``."""
    return 0.5 * jnp.sum(q * (x - c) ** 2)


def sharp_data(x, c):
    """`sharp` with its data as an argument."""
    return so.nonsmooth.l1_norm(x - c)


# name -> (factory(hyper) -> optimizer, objective, a good hyperparameter, another one)
OPTIMIZERS = {
    "gradient_descent": (lambda h: so.gradient_descent(h), smooth, 0.5, 0.25),
    "gradient_descent_schedule": (
        lambda h: so.gradient_descent(so.schedules.inverse_sqrt(h)),
        smooth,
        0.5,
        0.25,
    ),
    "subgradient_descent": (lambda h: so.subgradient_descent(h), sharp, 0.1, 0.05),
    "subgradient_normalized": (
        lambda h: so.subgradient_descent(so.schedules.inverse_sqrt(h), normalize=True),
        sharp,
        0.5,
        0.25,
    ),
    "polyak_subgradient": (lambda h: so.polyak_subgradient(h), sharp, 0.0, -1.0),
    "proximal_gradient": (
        lambda h: so.proximal_gradient(so.prox.l1(h), 0.5),
        smooth,
        0.1,
        0.2,
    ),
    "fista": (lambda h: so.fista(so.prox.l1(h), 0.5), smooth, 0.1, 0.2),
    "fista_backtracking": (
        lambda h: so.fista(so.prox.l1(h), so.backtracking(initial=4.0)),
        smooth,
        0.1,
        0.2,
    ),
    "optax_adam": (lambda h: optax.adam(h), smooth, 0.1, 0.05),
    "apply_prox_chain": (
        lambda h: optax.chain(optax.sgd(0.5), so.apply_prox(so.prox.l1(h), 0.5)),
        smooth,
        0.1,
        0.2,
    ),
}
NAMES = sorted(OPTIMIZERS)
# the subopt optimizers (their states carry a StepInfo)
SUBOPT = [n for n in NAMES if n != "optax_adam"]
# optax closes over its hyperparameters (adam's step, the chain's transforms): each new
# optimizer object is a new program, documented in so.run; subopt's keep them in the state
CLOSES_OVER = {"optax_adam", "apply_prox_chain"}
PROXIMAL = {"proximal_gradient", "fista", "fista_backtracking", "apply_prox_chain"}


class TraceCounter:
    """Wraps an objective and counts how often JAX traces it (each trace is a compile).

    Use one module-level counter per objective so that its identity (and so the compile
    cache) is stable: ``f = TraceCounter(fun)``; ``so.run(opt, f, x0, ...)``; ``f.count``.
    """

    def __init__(self, fun):
        self.fun = fun
        self.count = 0

    def __call__(self, *args):
        self.count += 1
        return self.fun(*args)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return other is self


def prox_evaluator(catalogue, sets):
    """One jitted program for the prox properties of every term of ``catalogue(lam)``.

    It returns, at ``(lam, t, x)``: each prox output p, the prox of p and the value at p for
    the sets in ``sets`` (idempotence and feasibility), and each term's
    ``min_norm(p, (p - x) / t)``, which vanishes iff p is the prox (0 is in dh(p) + (p - x)/t).
    Returns ``(jitted, counter)``; ``counter.count`` is the number of traces.
    """

    def prox_all(lam, t, x):
        regs = catalogue(lam)
        out = {name: reg.prox(x, t) for name, reg in regs.items()}
        again = {name: regs[name].prox(out[name], t) for name in sets}
        values = {name: regs[name].value(out[name]) for name in sets}

        def residual(p):
            return jax.tree_util.tree_map(lambda pi, xi: (pi - xi) / t, p, x)

        certificate = {
            name: reg.min_norm(out[name], residual(out[name])) for name, reg in regs.items()
        }
        return out, again, values, certificate

    counter = TraceCounter(prox_all)
    return jax.jit(counter), counter
