"""Browser tests; a package so that their platform can be package-scoped (stopped once they are done)."""
