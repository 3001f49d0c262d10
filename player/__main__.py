"""`python -m player`: the same as the `invigil` command (the window, or a command such as `doctor`)."""

from __future__ import annotations

import sys

from player.cli import main

sys.exit(main())
