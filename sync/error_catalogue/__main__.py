"""`python -m sync.error_catalogue --markdown > docs/errors.md`, or an INV number or key to look it up."""

from __future__ import annotations

import sys

from sync.error_catalogue import main

sys.exit(main())
