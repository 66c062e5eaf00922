"""PLACEHOLDER (issue 5 in progress): composite problems."""


def lasso(*args, **kwargs):
    raise NotImplementedError


def elastic_net(*args, **kwargs):
    raise NotImplementedError


def group_lasso(*args, **kwargs):
    raise NotImplementedError


def nonnegative_least_squares(*args, **kwargs):
    raise NotImplementedError


def sparse_logistic_regression(*args, **kwargs):
    raise NotImplementedError


def graphical_lasso(*args, **kwargs):
    raise NotImplementedError
