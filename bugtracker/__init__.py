"""Bug tracker: known bugs linked to checks and to error groups."""
