"""`python -m odr_runner run`."""

from odr_runner.cli import main

raise SystemExit(main())
