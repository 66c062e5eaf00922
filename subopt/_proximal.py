"""PLACEHOLDER (issue 5 in progress)."""


def proximal_gradient(reg, *, learning_rate):
    raise NotImplementedError


def fista(reg, *, learning_rate, restart=True):
    raise NotImplementedError


def backtracking(initial=1.0, shrink=0.5):
    raise NotImplementedError


def apply_prox(reg, learning_rate):
    raise NotImplementedError
