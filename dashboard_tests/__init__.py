"""The staff dashboard driven in a real browser (Playwright and Debian's Chromium)."""
