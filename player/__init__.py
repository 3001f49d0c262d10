"""Invigil desktop app: the student test player and the staff console."""
