"""Plant a one-line bug in a module without touching its file: mutation testing for the handwritten samplers.

A *mutant* is a copy of a module whose source differs from the original by one small edit (DeMillo, Lipton &
Sayward 1978, "Hints on test data selection: help for the practicing programmer", IEEE Computer 11(4),
34–41).  A check that cannot tell a mutant from the original cannot see that bug either; counting how often a
check catches a set of realistic mutants measures its power (:mod:`bayes_zoo.studies`).

:func:`plant` reads the module's source (:func:`inspect.getsource`), requires the text to be replaced to occur
exactly once, so that a list of planted bugs fails loudly instead of going stale when the code changes, and
executes the edited source as a new module object.  The original module, its file and ``sys.modules`` are left
as they were.

Numba: the samplers compile their kernels with ``numba.njit(cache=True)``.  Numba's disk cache is keyed by the
function's source file and line, which a module compiled from a string does not have (and a mutant must never
load the original's compiled kernels), so every ``cache=True`` in the mutant's source is turned into
``cache=False``: a mutant compiles its kernels afresh in each process, on first call.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import types

__all__ = ["plant", "MUTANT_SUFFIX"]

#: Appended to the original module's name to name a mutant (``bayes_zoo.inference.gibbs.normal_gamma[mutant]``).
MUTANT_SUFFIX = "[mutant]"

_counter = itertools.count(1)


def plant(module: types.ModuleType, old: str, new: str) -> types.ModuleType:
    """A copy of ``module`` with the text ``old`` of its source replaced by ``new``, executed as a new module.

    Parameters
    ----------
    module : types.ModuleType
        A module whose source :func:`inspect.getsource` can read (a ``.py`` file).  Its imports must be
        absolute (as every ``bayes_zoo`` module's are); relative imports also resolve, since the mutant keeps
        the original's ``__package__``.
    old : str
        Text that occurs exactly once in the module's source (a line or part of one, whitespace included).
    new : str
        Its replacement; must differ from ``old``.

    Returns
    -------
    types.ModuleType
        A new module named ``module.__name__ + "[mutant]"`` (followed by a counter from the second mutant of
        a process on, ``[mutant 2]``, ...), with attributes ``__mutation__ = (old, new)`` and
        ``__mutant_of__ = module.__name__``.  Every ``numba.njit(cache=True)`` of the source is compiled with
        ``cache=False`` (see the module docstring).  The mutant is placed in ``sys.modules`` only while its
        source executes (dataclasses and pickling of classes look their module up there) and removed after;
        ``module`` itself is neither modified nor re-imported.

    Raises
    ------
    ValueError
        ``module`` if it is not a module or its source cannot be read; ``old`` if it is not a non-empty string
        or does not occur exactly once in the source (the message says how often it occurs and names it);
        ``new`` if it is not a string or equals ``old``.
    """
    if not isinstance(module, types.ModuleType):
        raise ValueError(f"module: expected a module, got {type(module).__name__}")
    if not isinstance(old, str) or not old:
        raise ValueError(f"old: expected a non-empty string, got {old!r}")
    if not isinstance(new, str):
        raise ValueError(f"new: expected a string, got {type(new).__name__}")
    if new == old:
        raise ValueError(f"new: equals old ({old!r}); a mutant must differ from the original")
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError) as err:
        raise ValueError(f"module: cannot read the source of {module.__name__} ({err})") from None
    count = source.count(old)
    if count != 1:
        raise ValueError(f"old: {old!r} occurs {count} times in {module.__name__} (file "
                         f"{getattr(module, '__file__', '?')}); it must occur exactly once")
    mutated = source.replace(old, new).replace("cache=True", "cache=False")

    number = next(_counter)
    name = module.__name__ + (MUTANT_SUFFIX if number == 1 else f"{MUTANT_SUFFIX[:-1]} {number}]")
    mutant = types.ModuleType(name, module.__doc__)
    mutant.__package__ = module.__package__
    mutant.__mutation__ = (old, new)
    mutant.__mutant_of__ = module.__name__
    filename = f"<mutant of {getattr(module, '__file__', module.__name__)}>"
    code = compile(mutated, filename, "exec")
    sys.modules[name] = mutant
    try:
        exec(code, mutant.__dict__)
    finally:
        sys.modules.pop(name, None)
    return mutant
