"""The errors API under `/api/errors/`, for the dashboard and for scripts."""
