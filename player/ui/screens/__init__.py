"""The player's screens, one module each; every screen is a passive view that emits what the student did."""
