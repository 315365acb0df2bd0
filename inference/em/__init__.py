"""Handwritten EM algorithms (posterior modes, not samples), one module per model."""
