"""Active learning by ACS-FW (Pinsler et al. 2019) and its baselines.

Not built yet: the package exists so that the dependency direction ``zoo -> active_learning -> inference ->
models`` is in place from the start.  See docs/ARCHITECTURE.md for what it will hold.
"""
