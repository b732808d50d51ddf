"""Scenarios: the model, loading and validation, template fields; the built-in library."""
