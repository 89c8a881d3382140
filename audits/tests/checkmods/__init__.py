"""Check modules used only by the tests, each doing one thing a test needs."""
