"""Errors: Periskop-style exception aggregation across service instances."""
