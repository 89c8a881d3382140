"""Importing and exporting the whole config file, section by section, from the command line and the admin."""
