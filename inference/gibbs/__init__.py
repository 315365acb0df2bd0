"""Handwritten Gibbs samplers, one module per model."""
