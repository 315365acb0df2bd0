"""The application: the registry of pairs, the CLI and the reports."""

import models  # noqa: F401  (configures PyTensor and warning filters before anything imports PyMC)
