"""Kiosk mode without Qt (docs/kiosk.md): the server calls that let a machine leave it. The window's flags, the
watch on the test window and the exit dialog are in player/ui/kiosk.py; the count of departures is kept by
player/offline_queue/left_window.py."""
