"""How it is inferred: the handwritten algorithms, the one call to ``pymc.sample``, diagnostics and the
cross-validation protocol.  Handwritten algorithms do not import PyMC."""
