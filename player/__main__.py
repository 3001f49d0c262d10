"""`python -m player`: the same as the `invigil` command."""

from __future__ import annotations

import sys

from player.app import main

sys.exit(main())
