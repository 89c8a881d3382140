"""Audits: checks stored as data, run through one runner, served as Telescope does."""
