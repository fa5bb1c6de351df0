"""Local runner: the whole ODR platform on one machine (`python -m odr_runner run`), reused by the e2e tests."""
