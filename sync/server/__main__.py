"""`python -m sync.server` runs the server CLI (and is the frozen server's entry point)."""

from __future__ import annotations

import multiprocessing
import sys

from sync.server.cli import main

# `serve --workers N` starts its workers with multiprocessing's spawn; in the frozen server each worker is this
# executable started again, and this call makes it run the worker instead of the CLI (a no-op when not frozen).
multiprocessing.freeze_support()
sys.exit(main())
