"""PLACEHOLDER (issue 4 in progress): nonsmooth problems."""


def lad_regression(*args, **kwargs):
    raise NotImplementedError


def linear_svm(*args, **kwargs):
    raise NotImplementedError


def max_of_affine(*args, **kwargs):
    raise NotImplementedError
