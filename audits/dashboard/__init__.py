"""The staff dashboard's pages about checks: overview, check details, status feed and badges."""
