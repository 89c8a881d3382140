"""The notifications API: channels and maintenance windows, under /api/notifications/."""
