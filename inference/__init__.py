"""How it is inferred: the handwritten algorithms, the one call to ``pymc.sample``, diagnostics and the
cross-validation protocol.  Handwritten algorithms do not import PyMC."""

import models  # noqa: F401  (configures PyTensor and warning filters before anything imports PyMC)
