"""Periskop's own HTTP API and push endpoints, byte-compatible, and this service's own /errors."""
