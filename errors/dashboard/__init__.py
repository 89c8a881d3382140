"""The staff dashboard's pages about errors, under `/dashboard/errors/`."""
