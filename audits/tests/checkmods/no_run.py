"""A module without run(): importing a check that uses it must fail."""
