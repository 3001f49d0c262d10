"""`python -m sync.server.cli`: the same as `invigil-server`."""

from __future__ import annotations

import sys

from sync.server.cli import main

sys.exit(main())
