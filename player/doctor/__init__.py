"""`invigil doctor`: is this machine ready for a sitting? The checks (checks.py) and their report (report.py)."""
