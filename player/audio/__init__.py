"""Audio playback behind a protocol, with an output-device check."""
