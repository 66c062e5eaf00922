"""PLACEHOLDER (issue 6 in progress)."""


def sweep(fn, *, devices=None, batch_size=None, **axes):
    raise NotImplementedError
