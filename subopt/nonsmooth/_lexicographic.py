r"""Lexicographic derivatives of whole functions: a jaxpr interpreter with k tangent columns.

A per-primitive ``custom_jvp`` rule cannot give the right derivative of a composition at a
kink (``relu(x) - relu(-x)`` is x, with derivative 1, yet the chain rule of minimum-norm
rules gives 0), and a vmapped rule sees one tangent column at a time. The lexicographic (LD)
derivative of Nesterov (2005) propagates k directions :math:`M = [m_1, \dots, m_k]` together
and lets each kink pick its branch by the first nonzero of (value, tangents): the result is
:math:`f'(x; M)`, the sequence of directional derivatives

.. math::

  f^{(0)} = f'(x; \cdot), \quad f^{(j)} = [f^{(j-1)}]'(m_j; \cdot), \quad
  f'(x; M) = [f^{(0)}(m_1), \dots, f^{(k-1)}(m_k)],

and for a square nonsingular M the lexicographic gradient :math:`J_L = f'(x; M) M^{-1}` is
an element of Clarke's generalized gradient of a piecewise-differentiable f (the gradient
where f is smooth, a subgradient where f is convex).

The interpreter (`eval_ld`) walks the jaxpr of ``fun``: nonsmooth primitives use the rules of
`subopt.nonsmooth._ld_rules`, smooth ones their ordinary jvp vmapped over the k columns,
``jit``, ``scan``, ``while_loop``, ``cond``, ``checkpoint``, ``custom_jvp`` and ``custom_vjp``
are entered (the custom rules by their primal code, except the subopt norms, which have LD
rules of their own). Known nonsmooth primitives without an LD rule raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.extend as jex
import jax.numpy as jnp
from jax import lax
from jax.interpreters import ad

from subopt import _tree
from subopt.nonsmooth import _ld_rules as R
from subopt.nonsmooth import _nuclear

PyTree = Any

RULES: dict[str, Callable] = {
    "abs": R.abs_rule,
    "max": R.max_rule,
    "min": R.min_rule,
    "clamp": R.clamp_rule,
    "select_n": R.select_n_rule,
    "reduce_max": R.reduce_max_rule,
    "reduce_min": R.reduce_min_rule,
    "cummax": R.cummax_rule,
    "cummin": R.cummin_rule,
    "sort": R.sort_rule,
    **{name: R.compare_rule(name) for name in ("gt", "ge", "lt", "le", "eq", "ne")},
}

# Primitives whose output elements are input elements (or logic of them): on booleans that
# carry an LD predicate they are applied to the predicate too.
BOOL_LIFT = {
    "and", "or", "not", "xor", "broadcast_in_dim", "reshape", "squeeze", "expand_dims",
    "transpose", "slice", "dynamic_slice", "concatenate", "gather", "rev", "copy", "copy_p",
    "pad", "dynamic_update_slice", "convert_element_type", "reduce_and", "reduce_or",
}  # fmt: skip

# Nonsmooth primitives with no LD rule here: their jvp is not an LD derivative at ties.
UNSUPPORTED = {"eigh", "svd", "eig", "schur", "top_k", "qr", "lu", "approx_top_k"}

# Primitives whose tangent is 0 (piecewise constant, or cut off): no tangent is carried.
ZERO = {"stop_gradient", "sign", "floor", "ceil", "round", "is_finite", "nextafter"}


def _key_of(fn: Callable) -> tuple[str, str]:
    return fn.__name__, fn.__code__.co_filename


def _custom_key(closed: Any) -> tuple[str, str] | None:
    info = getattr(getattr(closed, "jaxpr", None), "debug_info", None)
    src = getattr(info, "func_src_info", None)
    if not src or " at " not in src:
        return None
    name, where = src.split(" at ", 1)
    return name, where.rsplit(":", 1)[0]


CUSTOM_RULES: dict[tuple[str, str], Callable] = {
    _key_of(_tree._norm.fun): R.norm_rule(_tree._norm),
    _key_of(_nuclear._nuclear.fun): R.nuclear_rule(_nuclear._nuclear),
}


def _is_float(x: Any) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def _float_tan(t: Any) -> Any:
    return None if t is None or t.dtype == jnp.bool_ else t


def instantiate(val: Any, tan: Any, k: int) -> Any:
    """A tangent that is an array: zeros for a float, the value itself for a boolean."""
    if tan is not None:
        return tan
    if _is_float(val):
        return jnp.zeros((*jnp.shape(val), k), jnp.result_type(val))
    if jnp.result_type(val) == jnp.bool_:
        return jnp.asarray(val)
    return None


def _bind(prim, vals, params):
    out = prim.bind(*vals, **prim.get_bind_params(params))
    return list(out) if prim.multiple_results else [out]


def _smooth(prim, vals, tans, params, k):
    """The primitive's own jvp, vmapped over the k tangent columns."""
    idx = [i for i, t in enumerate(tans) if _float_tan(t) is not None]
    outs = _bind(prim, vals, params)
    if not idx:
        return outs, [None] * len(outs)

    def f(*dyn):
        args = list(vals)
        for i, d in zip(idx, dyn):
            args[i] = d
        return tuple(_bind(prim, args, params))

    def column(*cols):
        return jax.jvp(f, tuple(vals[i] for i in idx), cols)[1]

    touts = jax.vmap(column, in_axes=-1, out_axes=-1)(*(tans[i] for i in idx))
    return outs, [t if _is_float(o) else None for o, t in zip(outs, touts)]


def _sub(closed: Any, vals, tans, k):
    return eval_ld(closed.jaxpr, closed.consts, vals, tans, k)


def _fixed_point(step, carry_v, carry_t, k, *rest):
    """Which carries get a tangent: grow the set until the step keeps it."""
    has = [t is not None for t in carry_t]
    while True:
        ct = [instantiate(v, t, k) if h else None for v, t, h in zip(carry_v, carry_t, has)]
        out_t = jax.eval_shape(step, (list(carry_v), ct), *rest)[0][1]
        new = [h or o is not None for h, o in zip(has, out_t)]
        if new == has:
            return has, ct
        has = new


def _keep(outs, touts, has, k):
    return [instantiate(v, t, k) if h else None for v, t, h in zip(outs, touts, has)]


def _scan(eqn, vals, tans, k):
    p = eqn.params
    body, nc, ncar = p["jaxpr"], p["num_consts"], p["num_carry"]
    cv, ct = vals[:nc], tans[:nc]
    carry_v, carry_t = vals[nc : nc + ncar], tans[nc : nc + ncar]
    xs = (list(vals[nc + ncar :]), list(tans[nc + ncar :]))

    def step(carry, x):
        outs, touts = _sub(body, [*cv, *carry[0], *x[0]], [*ct, *carry[1], *x[1]], k)
        return (outs[:ncar], touts[:ncar]), (outs[ncar:], touts[ncar:])

    sliced = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), xs)
    has, init_t = _fixed_point(step, carry_v, carry_t, k, sliced)

    def fixed(carry, x):
        (c_v, c_t), ys = step(carry, x)
        return (c_v, _keep(c_v, c_t, has, k)), ys

    (c_v, c_t), (ys_v, ys_t) = lax.scan(
        fixed, (list(carry_v), init_t), xs, length=p["length"], reverse=p["reverse"],
        unroll=p["unroll"],
    )  # fmt: skip
    return [*c_v, *ys_v], [*c_t, *ys_t]


def _while(eqn, vals, tans, k):
    p = eqn.params
    cj, bj, cn, bn = p["cond_jaxpr"], p["body_jaxpr"], p["cond_nconsts"], p["body_nconsts"]
    c_consts = vals[:cn]
    b_v, b_t = vals[cn : cn + bn], tans[cn : cn + bn]
    carry_v, carry_t = vals[cn + bn :], tans[cn + bn :]

    def step(carry):
        outs, touts = _sub(bj, [*b_v, *carry[0]], [*b_t, *carry[1]], k)
        return outs, touts

    def shaped(carry):
        return (step(carry),)  # eval_shape's view: ((outs, touts),)

    has, init_t = _fixed_point(shaped, carry_v, carry_t, k)

    def body(carry):
        outs, touts = step(carry)
        return outs, _keep(outs, touts, has, k)

    def cond(carry):
        return jex.core.jaxpr_as_fun(cj)(*c_consts, *carry[0])[0]

    outs, touts = lax.while_loop(cond, body, (list(carry_v), init_t))
    return outs, touts


def _cond(eqn, vals, tans, k):
    branches = eqn.params["branches"]
    ops = (list(vals[1:]), list(tans[1:]))

    def run(branch):
        return lambda o: _sub(branch, o[0], o[1], k)

    shapes = [jax.eval_shape(run(b), ops)[1] for b in branches]
    has = [any(s[i] is not None for s in shapes) for i in range(len(shapes[0]))]

    def wrapped(branch):
        def f(o):
            outs, touts = run(branch)(o)
            return outs, _keep(outs, touts, has, k)

        return f

    return lax.switch(vals[0], [wrapped(b) for b in branches], ops)


def _custom_jvp(eqn, vals, tans, k):
    closed = eqn.params["call_jaxpr"]
    rule = CUSTOM_RULES.get(_custom_key(closed) or ("", ""))
    if rule is not None:
        n = eqn.params.get("num_consts", 0)
        out, t = rule(k, vals[n:], tans[n:])
        return [out], [t]
    return _sub(closed, vals, tans, k)


HIGHER: dict[str, Callable] = {
    "pjit": lambda e, v, t, k: _sub(e.params["jaxpr"], v, t, k),
    "jit": lambda e, v, t, k: _sub(e.params["jaxpr"], v, t, k),
    "closed_call": lambda e, v, t, k: _sub(e.params["call_jaxpr"], v, t, k),
    "core_call": lambda e, v, t, k: eval_ld(e.params["call_jaxpr"], [], v, t, k),
    "remat2": lambda e, v, t, k: eval_ld(e.params["jaxpr"], [], v, t, k),
    "checkpoint": lambda e, v, t, k: eval_ld(e.params["jaxpr"], [], v, t, k),
    "custom_jvp_call": _custom_jvp,
    "custom_vjp_call": lambda e, v, t, k: _sub(e.params["call_jaxpr"], v, t, k),
    "custom_vjp_call_jaxpr": lambda e, v, t, k: _sub(e.params["fun_jaxpr"], v, t, k),
    "scan": _scan,
    "while": _while,
    "cond": _cond,
}


def _apply(eqn, vals, tans, k):
    prim, params = eqn.primitive, eqn.params
    name = prim.name
    if all(t is None for t in tans):
        outs = _bind(prim, vals, params)
        return outs, [None] * len(outs)
    if name in HIGHER:
        return HIGHER[name](eqn, vals, tans, k)
    if name in RULES:
        out, t = RULES[name](k, vals, tans, **params)
        return (out, t) if prim.multiple_results else ([out], [t])
    if name in ZERO:
        outs = _bind(prim, vals, params)
        return outs, [None] * len(outs)
    if name in UNSUPPORTED:
        raise NotImplementedError(
            f"lexicographic_derivative has no LD rule for the primitive '{name}' (nonsmooth "
            "where its values tie, e.g. repeated eigenvalues); write the function without it "
            "or give it a custom_jvp with primal code built from supported primitives"
        )
    outs_avals = [v.aval for v in eqn.outvars]
    if not any(jnp.issubdtype(a.dtype, jnp.inexact) for a in outs_avals):
        outs = _bind(prim, vals, params)
        lift = name in BOOL_LIFT and all(a.dtype == jnp.bool_ for a in outs_avals)
        if lift and any(t is not None and t.dtype == jnp.bool_ for t in tans):
            lex = [t if t is not None and t.dtype == jnp.bool_ else v for v, t in zip(vals, tans)]
            return outs, _bind(prim, lex, params)
        return outs, [None] * len(outs)
    if prim not in ad.primitive_jvps:
        raise NotImplementedError(
            f"lexicographic_derivative cannot differentiate the primitive '{name}' (no jvp rule)"
        )
    return _smooth(prim, vals, tans, params, k)


def eval_ld(jaxpr: Any, consts, args, arg_tans, k: int) -> tuple[list, list]:
    """Evaluate ``jaxpr`` on values and their k-column tangents (None: no dependence)."""
    env: dict = {}

    def read(v):
        if isinstance(v, jex.core.Literal):
            return v.val, None
        return env[v]

    for v, val in zip(jaxpr.constvars, consts):
        env[v] = (val, None)
    for v, val, t in zip(jaxpr.invars, args, arg_tans):
        env[v] = (val, t)
    for eqn in jaxpr.eqns:
        vals, tans = zip(*[read(v) for v in eqn.invars]) if eqn.invars else ((), ())
        outs, touts = _apply(eqn, list(vals), list(tans), k)
        for v, o, t in zip(eqn.outvars, outs, touts):
            if not isinstance(v, jex.core.DropVar):
                env[v] = (o, t)
    pairs = [read(v) for v in jaxpr.outvars]
    return [p[0] for p in pairs], [p[1] for p in pairs]
