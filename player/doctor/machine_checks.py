"""The checks of this machine itself: its settings, audio, disk, SQLite's WAL, keyring, screen, unsent results and
the name the console shows for it."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TypeVar

from player.config import default_data_dir
from player.doctor.context import Context, failure, not_checked, ok, warning
from player.doctor.report import Check
from player.doctor.tone import TONE_SECONDS, write_tone

NO_CONFIG = "the config could not be read (see Settings)"
DEFAULT_SERVER_URL = "http://127.0.0.1:8765"

DISK_FAIL_BYTES = 200 * 1024 * 1024
DISK_WARN_BYTES = 500 * 1024 * 1024
"""Under 200 MB a sitting's recordings and journal may not fit; under 500 MB one more download could fill it."""
MIN_SCREEN = (1024, 768)
"""The size the student's screens are laid out for: smaller cuts off items or the timer."""
NO_DISPLAY_PLATFORMS = frozenset({"offscreen", "minimal"})
TONE_TIMEOUT_SECONDS = 10.0

_T = TypeVar("_T")


def check_config(ctx: Context) -> Check:
    key, title = "config", "Settings"
    if ctx.config is None:
        return failure(
            key,
            title,
            f"The config cannot be used: {ctx.config_problem}",
            "Correct the setting named above in that file (docs/player-config.md lists every setting), then run "
            "`invigil doctor` again.",
        )
    read = _config_files(ctx)
    unset = _is_default(ctx, "server_url")
    if ctx.edges.effective_uid() == 0:
        also = (
            f" server_url is not set either, so the built-in {DEFAULT_SERVER_URL} (this computer) is used."
            if unset
            else ""
        )
        return warning(
            key,
            title,
            "Running as root (e.g. with sudo): the config read and the data folder checked "
            f"({ctx.config.data_dir}) are root's, not those of the account students use.{also} {read}",
            "Run `invigil doctor` (and the player) as the account students use, without sudo, on the computer's own "
            "desktop, to check what the player will find.",
            entry="as_root",
        )
    if unset:
        return warning(
            key,
            title,
            f"server_url is not set, so the built-in {DEFAULT_SERVER_URL} (this computer) is used. {read}",
            'Set server_url in the machine-wide config file, e.g. server_url = "https://invigil.school.example" '
            "(docs/deployment.md).",
        )
    return ok(key, title, read)


def _is_default(ctx: Context, name: str) -> bool:
    assert ctx.config is not None
    return ctx.config.origins.get(name, "default") == "default"


def _config_files(ctx: Context) -> str:
    """Each config file looked for, read (and what it set, if anything) or absent, then the variables and the
    command line that set something: an IT admin sees their file was found even when it set nothing new."""
    assert ctx.config is not None
    origins = dict(ctx.config.origins)
    parts: list[str] = []
    files: list[str] = []
    if ctx.sources is not None:
        for label, path in (("machine-wide", ctx.sources.machine_file), ("this user's", ctx.sources.user_file)):
            set_here = [name for name, origin in origins.items() if origin == str(path)]
            files.append(str(path))
            if path == ctx.sources.user_file and not ctx.config.allow_user_config and path.exists():
                parts.append(f"{label} {path} ignored (the machine-wide file sets allow_user_config = false)")
            elif path.is_file():
                parts.append(f"{label} {path} read, " + (f"sets {', '.join(set_here)}" if set_here else "sets nothing"))
            else:
                parts.append(f"{label} {path} not there")
    elsewhere: dict[str, list[str]] = {}
    for name, origin in origins.items():
        if origin != "default" and origin not in files:
            elsewhere.setdefault(origin, []).append(name)
    parts += [f"{origin} sets {', '.join(names)}" for origin, names in elsewhere.items()]
    if not parts:
        return "Config: no config file or INVIGIL_ variable set anything: every setting is its default."
    return "Config: " + "; ".join(parts) + "."


def check_audio_output(ctx: Context) -> Check:
    key, title = "audio_output", "Audio output"
    outputs = ctx.outputs()
    if not outputs:
        return failure(
            key,
            title,
            "No speakers or headphones found: students would hear nothing, and listening items cannot start.",
            "Plug in speakers or headphones (or switch the sound card on in the system settings), then run doctor "
            "again.",
        )
    return ok(key, title, f"{len(outputs)} found: {', '.join(outputs)}.")


def check_audio_tone(ctx: Context) -> Check:
    key, title = "audio_tone", "Test tone"
    if not ctx.outputs():
        return not_checked(key, title, "there is no audio output to play it to (see Audio output)")
    with tempfile.TemporaryDirectory(prefix="invigil-doctor-") as folder:
        tone = write_tone(Path(folder) / "tone.wav")
        problem = ctx.edges.tone_player().play_tone(tone, timeout_seconds=TONE_TIMEOUT_SECONDS)
    if problem is None:
        return ok(key, title, f"A {TONE_SECONDS:g} s test tone played to its end through the audio output.")
    return failure(
        key,
        title,
        f"The test tone did not play: {problem}",
        "Check the speakers or headphones and the system's sound settings (output device, mute), then run doctor "
        "again; a listening test plays through the same audio stack.",
    )


def _existing(path: Path) -> Path:
    """The folder itself, or its nearest parent that exists (a data folder not made yet is made on that disk)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path(path.anchor or ".")


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):,.0f} MB"


def check_disk_space(ctx: Context) -> Check:
    key, title = "disk_space", "Free disk space"
    data_dir = ctx.config.data_dir if ctx.config is not None else default_data_dir()
    where = _existing(data_dir)
    space = ctx.edges.disk_space(where)
    detail = f"{_megabytes(space.free_bytes)} free for the data folder {data_dir}"
    fix = (
        "Free some space on that disk (or set data_dir to a folder on a larger local disk): recordings are "
        "downloaded and every answer is journalled there."
    )
    if space.free_bytes < DISK_FAIL_BYTES:
        return failure(key, title, f"Only {detail}; a sitting needs at least {_megabytes(DISK_FAIL_BYTES)}.", fix)
    if space.free_bytes < DISK_WARN_BYTES:
        return warning(key, title, f"Only {detail}; under {_megabytes(DISK_WARN_BYTES)} is tight.", fix)
    return ok(key, title, detail + ".")


def check_keyring(ctx: Context) -> Check:
    key, title = "keyring", "Staff sign-in store (keyring)"
    if ctx.config is None:
        return not_checked(key, title, NO_CONFIG)
    setting = ctx.config.keyring_backend
    chosen = ctx.edges.keyring(setting)
    if chosen.persistent:
        return ok(key, title, f"Staff sign-ins are kept in the {chosen.name}.")
    if setting == "memory":
        return ok(
            key,
            title,
            "keyring_backend = memory (chosen in the config): staff sign in again after every restart of the app.",
        )
    return warning(
        key,
        title,
        f"{chosen.why[:1].upper()}{chosen.why[1:]}; staff must sign in again after every restart of the app.",
        "Make the desktop's keyring work for this user (GNOME Keyring or KWallet on Linux; it is built into Windows "
        'and macOS), or set keyring_backend = "memory" in the config to accept signing in after each restart.',
    )


def check_display(ctx: Context) -> Check:
    key, title = "display", "Screen size"
    screen = ctx.edges.screen()
    wide, high = MIN_SCREEN
    fix = (
        f"Use a screen of at least {wide}x{high}, or raise the screen resolution (and lower the display scaling) in "
        "the system's display settings."
    )
    if screen is None:
        return failure(key, title, "No screen found.", fix)
    if screen.platform in NO_DISPLAY_PLATFORMS:
        return not_checked(
            key,
            title,
            f"there is no real display (Qt's platform is {screen.platform!r}: doctor ran without a desktop, e.g. "
            "over SSH)",
            "Run `invigil doctor` on the computer's own desktop to check its screen.",
        )
    size = f"{screen.width}x{screen.height}"
    if screen.width < wide or screen.height < high:
        return failure(key, title, f"The main screen is {size}, smaller than the {wide}x{high} the test needs.", fix)
    return ok(key, title, f"The main screen is {size} (at least {wide}x{high} is needed).")


_GENERATED_NAMES = (
    re.compile(r"^(desktop|laptop|win|pc)-[a-z0-9]{6,}$", re.IGNORECASE),  # Windows' DESKTOP-4F7K2QX
    re.compile(r"^[0-9a-f]{12}$|^[0-9a-f]{64}$", re.IGNORECASE),  # a container's id
    re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE),  # a UUID
    re.compile(r"^ip-\d+-\d+-\d+-\d+$"),  # a cloud image's ip-10-0-0-12
    re.compile(r"^[\d.:]+$"),  # an IP address
)
_SHARED_DEFAULTS = frozenset({"localhost", "ubuntu", "debian", "raspberrypi", "fedora", "linux", "computer", "pc"})


def looks_generated(name: str) -> bool:
    """True for a name a person did not choose: generated by an OS or image, or a default many machines share."""
    return name.casefold() in _SHARED_DEFAULTS or any(pattern.match(name) for pattern in _GENERATED_NAMES)


def check_machine_name(ctx: Context) -> Check:
    from player.machine_name import resolve_machine_name

    key, title = "machine_name", "Machine name"
    if ctx.config is None:
        return not_checked(key, title, NO_CONFIG)
    fix = (
        'Set machine_name in this computer\'s config (e.g. machine_name = "Room 12 PC 3"; INVIGIL_MACHINE_NAME '
        "works too), or give the computer a host name staff recognise."
    )
    if ctx.config.machine_name is not None:
        origin = ctx.config.origins.get("machine_name", "default")
        return ok(key, title, f"The console shows this computer as {ctx.config.machine_name!r} (from {origin}).")
    name = resolve_machine_name(ctx.config, host_name=ctx.edges.host_name)
    if name is None:
        return warning(
            key, title, "The host name is unusable, so the console shows this computer's generated machine id.", fix
        )
    if looks_generated(name):
        return warning(
            key,
            title,
            f"The console shows this computer as {name!r}, its host name, which looks generated or shared: staff "
            "cannot tell which desk it is.",
            fix,
        )
    return ok(key, title, f"The console shows this computer as {name!r} (its host name).")
