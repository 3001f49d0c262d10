"""`python -m bench`: run every benchmark, print figure/value/floor/ratio/budget (or JSON with --json)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import big_surge, cold_start, engines, outbox_drain, result_code, room_surge, ui_figures
from bench.big_surge import BigSizes
from bench.common import Figure, Sizes, render_json, render_table
from bench.server import ServerProcess, seed_school

log = logging.getLogger(__name__)

FIGURES = ("cold", "ui", "drain", "surge", "pg", "code", "big")
DEFAULT = ("cold", "ui", "drain", "surge", "pg", "code")
"""`big` (the 3,000-player surge, ~2 minutes on its own) runs only when asked for: `--only big`."""
"""`pg` needs SQLite's drain and surge of the same run (its floors): asking for it runs them too."""


def machine() -> dict[str, object]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def run(
    sizes: Sizes,
    *,
    only: Sequence[str],
    progress: bool,
    players: Sequence[int] = (),
    workers: int | None = None,
) -> list[Figure]:
    def say(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    figures: list[Figure] = []
    if "big" in only:
        say("bench: big surge ...")
        with tempfile.TemporaryDirectory(prefix="invigil-bench-big-") as tmp:
            big = BigSizes.smoke_sizes() if sizes.smoke else BigSizes()
            if players:
                big = dataclasses.replace(big, players=tuple(players))
            if workers:
                big = dataclasses.replace(big, workers=workers)
            figures += big_surge.measure(big, work=Path(tmp), say=say)
    if "code" in only:
        figures += result_code.measure()
    if "cold" in only:
        say("bench: cold start ...")
        figures.append(cold_start.measure(sizes)[0])
    if "pg" in only:
        only = [*only, "drain", "surge"]
    if not {"ui", "drain", "surge"} & set(only):
        return figures
    with tempfile.TemporaryDirectory(prefix="invigil-bench-") as tmp:
        work = Path(tmp)
        # Codes: one for the drain, the UI's sittings, then the surge's players (each code logs in once).
        needed = 1 + sizes.autoplay_logins + sizes.surge_players
        say(f"bench: seeding a school with {needed} students ...")
        school = seed_school(work / "server.sqlite3", students=needed)
        codes = list(school.codes)
        drain_code, ui_codes = codes[0], codes[1 : 1 + sizes.autoplay_logins]
        surge_codes = codes[1 + sizes.autoplay_logins :]
        with ServerProcess(school.db_path) as server:
            if "ui" in only:
                say("bench: player UI (answers, transitions, autoplay, memory) ...")
                figures += ui_figures.measure(sizes, server_url=server.url, codes=ui_codes, work=work / "ui")
            if "drain" in only:
                say("bench: outbox drain ...")
                figures += outbox_drain.measure(sizes, server_url=server.url, code=drain_code, work=work / "drain")
            if "surge" in only:
                say("bench: room surge ...")
                figures += room_surge.measure(sizes, server_url=server.url, codes=surge_codes)
        if "pg" in only:
            figures += engines.measure(sizes, sqlite=figures, work=work / "pg", say=say)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every benchmark still runs")
    parser.add_argument(
        "--only",
        action="append",
        choices=FIGURES,
        help="run only these groups (repeatable; default: all but big)",
    )
    parser.add_argument(
        "--players",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[],
        help="big surge: player counts, comma-separated, each run in turn (default 3000)",
    )
    parser.add_argument("--workers", type=int, help="big surge: `serve --workers N` (default 4)")
    args = parser.parse_args(argv)
    sizes = Sizes.smoke_sizes() if args.smoke else Sizes()
    figures = run(sizes, only=args.only or DEFAULT, progress=not args.json, players=args.players, workers=args.workers)
    if args.json:
        print(render_json(figures, smoke=sizes.smoke, machine=machine()))
    else:
        print(render_table(figures))
    # Missing a budget is a finding to report, not a crash: the exit status stays 0 unless a benchmark failed.
    return 0


if __name__ == "__main__":
    sys.exit(main())
