"""Tests of the shared pieces: placeholders, durations, locks, access, Dockerflow."""
