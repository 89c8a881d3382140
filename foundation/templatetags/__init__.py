"""Template filters every dashboard page uses."""
