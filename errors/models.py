"""Models of the errors app: services, targets, error groups (to come)."""
