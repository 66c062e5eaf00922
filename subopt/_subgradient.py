"""PLACEHOLDER (issue 4 in progress)."""


def subgradient_descent(step_size, *, normalize=False):
    raise NotImplementedError


def polyak_subgradient(f_star, *, max_step=None):
    raise NotImplementedError
