"""bayes-zoo: each classic problem in PyMC and by hand, cross-validated with ArviZ.

One import namespace (docs/ARCHITECTURE.md, "Layout"): this package is the application (CLI, registry,
pairs, reports; the repository's ``zoo/`` folder), and :mod:`bayes_zoo.models`, :mod:`bayes_zoo.inference`
and :mod:`bayes_zoo.active_learning` are its layers.

The names a user needs first are here, imported on first use (so ``import bayes_zoo`` costs nothing and
changes nothing in the process)::

    import bayes_zoo
    bayes_zoo.configure()                         # PyTensor's BLAS, once, before PyMC is imported
    cv = bayes_zoo.compare({"mine": idata, "nuts": nuts_idata}, exact_summary)  # one stage, alpha 0.01
    print(cv.verdict, cv.reasons, cv.power_summary())

The two-stage protocol (a "disagree" confirmed by a fresh run) is
:func:`bayes_zoo.inference.crossval.run_protocol`, for samplers given as ``sample(seed, draws, chains)``.

- :func:`configure` / :func:`blas_status`: :mod:`bayes_zoo.models.backend`.
- :func:`compare`, :func:`identity`, :func:`identities`: :mod:`bayes_zoo.inference.crossval`.
- :func:`run_sbc`, :class:`SBCProblem`, :func:`uniformity`: :mod:`bayes_zoo.inference.sbc`.
- :class:`Problem`, :class:`Side`, :class:`Option`: a problem as a declaration, :mod:`bayes_zoo.problem`.
- :func:`check`, :func:`from_kernel`: check your own sampler, :mod:`bayes_zoo.checking` (``bayes-zoo check``).
"""

from __future__ import annotations

import importlib

__all__ = [
    "__version__",
    "configure",
    "blas_status",
    "compare",
    "identity",
    "identities",
    "run_sbc",
    "SBCProblem",
    "uniformity",
    "Problem",
    "Side",
    "Option",
    "check",
    "from_kernel",
]

_LAZY = {
    "configure": "bayes_zoo.models.backend",
    "blas_status": "bayes_zoo.models.backend",
    "compare": "bayes_zoo.inference.crossval",
    "identity": "bayes_zoo.inference.crossval",
    "identities": "bayes_zoo.inference.crossval",
    "run_sbc": "bayes_zoo.inference.sbc",
    "SBCProblem": "bayes_zoo.inference.sbc",
    "uniformity": "bayes_zoo.inference.sbc",
    "Problem": "bayes_zoo.problem",
    "Side": "bayes_zoo.problem",
    "Option": "bayes_zoo.problem",
    "check": "bayes_zoo.checking",
    "from_kernel": "bayes_zoo.checking",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bayes-zoo")
    except PackageNotFoundError:
        return "unknown (not installed)"


def __getattr__(name: str):
    if name == "__version__":
        value = _version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'bayes_zoo' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
