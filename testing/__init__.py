"""Test support shared by every app's tests: real servers on 127.0.0.1."""
