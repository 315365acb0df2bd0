"""What is modelled: priors, data, PyMC model builders and exact references.

Importing this package first configures PyTensor (see :mod:`models.backend`).
"""

from models import backend as _backend

_backend.configure()
