"""Shipped resources: the demo assessment, the sound-check clip, icons and import templates."""

from __future__ import annotations

from pathlib import Path

# From __file__ rather than importlib.resources.files() so callers get a real folder that load_package() can
# walk; both agree for an installed wheel and for a PyInstaller bundle that collects the data files.
_HERE = Path(__file__).resolve().parent


def demo_assessment_path() -> Path:
    """The demo assessment package folder (manifest.json + media/)."""
    return _HERE / "demo"


def soundcheck_path() -> Path:
    """The spoken sound-check clip (Ogg Vorbis) played before a sitting starts."""
    return _HERE / "soundcheck.ogg"
