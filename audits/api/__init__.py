"""Telescope's HTTP API: the checks, their history, runs and uptime, as monitors poll them."""
