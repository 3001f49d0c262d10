"""`python -m sync.server` runs the server CLI."""

from __future__ import annotations

import sys

from sync.server.cli import main

sys.exit(main())
