"""PLACEHOLDER (issue 3 in progress): minimum-norm subgradient primitives."""
