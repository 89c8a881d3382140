"""The project's `runserver`, which Django finds before staticfiles' own."""
