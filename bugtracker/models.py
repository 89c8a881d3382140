"""Models of the bug tracker app: known bugs (to come)."""
