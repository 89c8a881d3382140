"""Management commands of the project itself (see commands/)."""
