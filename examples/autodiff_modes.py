"""Forward- and reverse-mode automatic differentiation, as in the textbook (DIGEST: 001).

1. The chapter's computational graph of f(x1, x2) = x1 x2 + sin x1
   (w1 = x1, w2 = x2, w3 = w1 w2, w4 = sin w1, w5 = w3 + w4), differentiated by hand in both
   modes and by JAX: forward mode (jax.jvp) needs one pass per input, reverse mode (jax.vjp)
   one pass for the whole gradient; all give (cos x1 + x2, x1).
2. The cost claim: reverse mode costs a small multiple of one evaluation, forward mode up to n
   times as much. Both are timed (jitted, median of repeats) on f(x) = sum(tanh(W x)) with n
   inputs, n = 4 ... 1024, and their cost relative to one evaluation is plotted against n in
   autodiff_modes.png. Timings depend on the machine and are printed, not asserted; only the
   trend is checked loosely (forward mode is slower than reverse mode at the largest n).

Run: python examples/autodiff_modes.py
"""

import math
import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

jax.config.update("jax_enable_x64", True)


def f(x):
    return x[0] * x[1] + jnp.sin(x[0])


def graph_by_hand(x1: float, x2: float) -> None:
    print(f"f(x1, x2) = x1 x2 + sin x1 at (x1, x2) = ({x1}, {x2})")
    w1, w2 = x1, x2
    w3, w4 = w1 * w2, math.sin(w1)
    w5 = w3 + w4
    print(f"  graph: w1 = {w1}, w2 = {w2}, w3 = w1 w2 = {w3}, w4 = sin w1 = {w4:.6f}, ", end="")
    print(f"w5 = w3 + w4 = {w5:.6f}")
    expected = np.array([math.cos(x1) + x2, x1])

    # forward mode: push tangents (dw1, dw2) = e_i through the graph, one pass per input
    forward = []
    for dw1, dw2 in ((1.0, 0.0), (0.0, 1.0)):
        dw3 = dw1 * w2 + w1 * dw2
        dw4 = math.cos(w1) * dw1
        forward.append(dw3 + dw4)
    # reverse mode: pull the adjoint df/dw5 = 1 back through the graph, one pass for both inputs
    b5 = 1.0
    b3, b4 = b5, b5
    b2 = b3 * w1
    b1 = b3 * w2 + b4 * math.cos(w1)
    print(f"  by hand, forward mode (2 passes): {np.round(forward, 6).tolist()}")
    print(f"  by hand, reverse mode (1 pass):   {np.round([b1, b2], 6).tolist()}")

    x = jnp.array([x1, x2])
    jvps = [float(jax.jvp(f, (x,), (e,))[1]) for e in jnp.eye(2)]  # one jvp per input
    value, pullback = jax.vjp(f, x)
    (vjp,) = pullback(jnp.ones_like(value))  # one vjp for the whole gradient
    print(f"  jax.jvp (2 passes): {np.round(jvps, 6).tolist()}")
    print(f"  jax.vjp (1 pass):   {np.round(np.asarray(vjp), 6).tolist()}")
    print(f"  closed form (cos x1 + x2, x1) = {np.round(expected, 6).tolist()}")
    for got in (forward, [b1, b2], jvps, vjp):
        assert np.allclose(got, expected, rtol=0, atol=1e-12)
    assert abs(float(value) - w5) < 1e-12


def per_call(fn, args, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / inner


def relative_costs(fns, args, repeats: int = 7) -> list[float]:
    """Median over repeats of each fn's time relative to the first fn's (one evaluation).

    The functions are timed interleaved within each repeat, so load from other processes
    affects them alike; calls that take microseconds are batched.
    """
    inners = []
    for fn in fns:
        jax.block_until_ready(fn(*args))  # compile
        once = per_call(fn, args, 1)
        inners.append(max(1, min(1000, int(2e-3 / max(once, 1e-9)))))
    times = np.array(
        [[per_call(fn, args, k) for fn, k in zip(fns, inners)] for _ in range(repeats)]
    )
    print(*(f"{t * 1e6:>9.1f}us" for t in np.median(times, axis=0)), end="")
    return np.median(times / times[:, :1], axis=0).tolist()


def loss(x, W):
    return jnp.sum(jnp.tanh(W @ x))


def timings(sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    evaluate = jax.jit(loss)
    forward = jax.jit(jax.jacfwd(loss))  # n jvp passes, one per basis vector (vmapped)
    reverse = jax.jit(jax.grad(loss))  # one vjp pass
    rng = np.random.default_rng(0)
    rel_fwd, rel_rev = [], []
    print(f"{'n':>6} {'eval':>11} {'forward':>11} {'reverse':>11} {'fwd/eval':>9} {'rev/eval':>9}")
    for n in sizes:
        W = jnp.asarray(rng.normal(size=(n, n)) / math.sqrt(n), jnp.float32)
        x = jnp.asarray(rng.normal(size=n), jnp.float32)
        if n == sizes[0]:
            assert np.allclose(forward(x, W), reverse(x, W), atol=1e-5)
        print(f"{n:>6}", end="")
        _, fwd, rev = relative_costs((evaluate, forward, reverse), (x, W))
        rel_fwd.append(fwd)
        rel_rev.append(rev)
        print(f" {fwd:>9.1f} {rev:>9.1f}")
    return np.array(rel_fwd), np.array(rel_rev)


def main() -> None:
    graph_by_hand(2.0, 3.0)

    print("\ncost of the full gradient of f(x) = sum(tanh(W x)), x in R^n (float32, jitted):")
    sizes = [4, 16, 64, 256, 1024]
    rel_fwd, rel_rev = timings(sizes)
    ratio = rel_fwd[-1] / rel_rev[-1]
    print(f"at n = {sizes[-1]}: forward mode takes {ratio:.1f}x the time of reverse mode")
    assert ratio > 2, "forward mode should be slower than reverse mode for many inputs"

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(sizes, rel_fwd, "o-", label="forward mode (jax.jacfwd: n jvp passes)")
    ax.loglog(sizes, rel_rev, "s-", label="reverse mode (jax.grad: one vjp pass)")
    ax.loglog(sizes, sizes, "k:", lw=0.8, label="n evaluations")
    ax.axhline(5, color="k", ls="--", lw=0.8, label="5 evaluations (the chapter's bound)")
    ax.set(
        xlabel="number of inputs n",
        ylabel="time / time of one evaluation",
        title="gradient cost of f(x) = sum(tanh(W x))",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig("autodiff_modes.png", dpi=110)
    print("wrote autodiff_modes.png")


if __name__ == "__main__":
    main()
