"""The error catalogue: every error a person can see has a stable number (INV-2104), its cause and its fix.

One table (ENTRIES) in the code; docs/errors.md is generated from it (`python -m sync.error_catalogue --markdown
> docs/errors.md`) and tests/test_error_catalogue.py fails when the two differ, when a number is reused for
another key, or when an error the server sends or the player shows has no entry.

Numbers are by area (AREAS); once given, a number is never renumbered or reused (tests/fixtures/error_numbers.txt
holds every number given so far). Light on purpose: the player imports this before its first paint, so no
pydantic, no Qt, nothing but the standard library.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

NUMBER_FORMAT = re.compile(r"INV-[1-7]\d{3}")
KEY_FORMAT = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


@dataclass(frozen=True)
class Area:
    digit: int
    title: str
    about: str


AREAS: tuple[Area, ...] = (
    Area(
        1, "Player start-up and configuration", "The player could not start: its config file, data folder or journal."
    ),
    Area(
        2, "Connection and server refusals", "The network, TLS, and every refusal the server's API sends (api.<code>)."
    ),
    Area(3, "Sitting, audio, answers and results", "What a student may see during a test, and results after it."),
    Area(4, "Staff console", "Messages of the staff console on a player computer."),
    Area(5, "Readiness checks (doctor)", "`invigil doctor` and the staff Readiness screen, one number per check."),
    Area(6, "Kiosk mode", "The locked test window: closing refused, staff exit codes."),
    Area(
        7,
        "Content and QTI loading",
        "Loading an assessment package (content checks, QTI) on the server or from the console.",
    ),
)


@dataclass(frozen=True)
class Entry:
    number: str
    """INV-xxxx: stable forever, quoted on support calls."""
    key: str
    """Where the code refers to it: "api.<server code>", "doctor.<check key>", "login.moved", ..."""
    summary: str
    cause: str
    fix: str

    @property
    def area(self) -> Area:
        return next(a for a in AREAS if a.digit == int(self.number[4]))


@dataclass(frozen=True)
class Problem:
    """A sentence a person reads, with the number they can quote (None only for text from an unknown source)."""

    text: str
    number: str | None = None

    def __str__(self) -> str:
        return f"{self.text} ({self.number})" if self.number else self.text

    def framed(self, before: str = "", after: str = "") -> Problem:
        """The same problem in a longer sentence ("Could not list the assessments: " + text), keeping its number."""
        return Problem(f"{before}{self.text}{after}", self.number)


def _e(number: str, key: str, summary: str, cause: str, fix: str) -> Entry:
    return Entry(number, key, summary, cause, fix)


_ASK_IT = "If it keeps happening, send IT the support bundle (`invigil support-bundle`) and quote this number."

ENTRIES: tuple[Entry, ...] = (
    # ---- 1xxx player start-up and configuration -------------------------------------------------------------
    _e(
        "INV-1001",
        "startup.failed",
        "Invigil cannot start.",
        "Start-up failed for a reason not listed here; the message says which.",
        "Read the message and the log file in the data folder. " + _ASK_IT,
    ),
    _e(
        "INV-1002",
        "startup.config",
        "The player's config is not valid.",
        "A config file, an INVIGIL_* environment variable or a command-line option has a value the player cannot use; the message names the file, key and value.",
        "Correct the value named (see docs/player-config.md), then start again. `invigil doctor` shows where each value came from.",
    ),
    _e(
        "INV-1003",
        "startup.data_folder",
        "The data folder cannot be used.",
        "The data folder (answers journal, log, media cache) cannot be created or written: permissions, a read-only or full disk.",
        "Give the user write access to the folder named, free some space, or set data_dir in the config to a writable folder.",
    ),
    _e(
        "INV-1004",
        "startup.journal",
        "The answers journal cannot be opened.",
        "The SQLite journal that keeps answers safe could not be opened or set up (a damaged file, a network drive without locking, a full disk).",
        "Keep the data folder on a local disk with free space. Do not delete the journal: it may hold unsent answers; send IT the support bundle.",
    ),
    _e(
        "INV-1005",
        "startup.logging",
        "The log file cannot be written.",
        "The log folder inside the data folder cannot be created or written.",
        "Give the user write access to the data folder, or set data_dir to a writable folder.",
    ),
    # ---- 2xxx connection (client side) ----------------------------------------------------------------------
    _e(
        "INV-2001",
        "client.unreachable",
        "The server cannot be reached.",
        "No answer from the server: the network is down, the address is wrong, a firewall blocks it, or the server is stopped.",
        "Check the network and server_url in the config (`invigil doctor` checks both); check the server is running.",
    ),
    _e(
        "INV-2002",
        "client.tls_untrusted",
        "The server's certificate is not trusted.",
        "The secure connection failed: the certificate is self-signed, expired, for another name, or a web filter re-signs connections.",
        "Set ca_bundle in the player's config to the CA certificate (PEM) that signed the server's (or the web filter's) certificate; see docs/player-config.md.",
    ),
    _e(
        "INV-2003",
        "client.server_busy",
        "The server is busy or failing.",
        "The server answered 408, 429 or 5xx: overloaded, rate-limiting, restarting, or an internal error.",
        "Wait a minute and try again. If it persists, check the server's log (journalctl -u invigil-server).",
    ),
    _e(
        "INV-2004",
        "client.bad_reply",
        "The server's reply could not be understood.",
        "The reply was not the API's (not JSON, the wrong shape, a redirect): usually a wrong server address (a web page, a proxy's login page) or mismatched player and server versions.",
        "Check server_url points at the Invigil server's API, and that player and server versions match (`invigil --version`, `invigil-server --version`).",
    ),
    _e(
        "INV-2005",
        "client.media_corrupt",
        "A downloaded recording or picture is damaged.",
        "A media file did not match the size or hash the server announced: the download was cut or changed on the way.",
        "Type the code again to download it again. If it repeats, check the network (a proxy changing files) and the package on the server.",
    ),
    _e(
        "INV-2006",
        "client.refused",
        "The server refused the request.",
        "The server sent a refusal code this player does not know (a newer server).",
        "Read the message; update the player to the server's version.",
    ),
    _e(
        "INV-2007",
        "client.local_file",
        "A file on this computer could not be read.",
        "A file the client needs (the CA bundle named by ca_bundle, a file chosen for upload) is missing or unreadable.",
        "Fix the path in the config, or choose the file again.",
    ),
    # ---- 2xxx server API refusals (api.<code>, the `error` field of every refusal) --------------------------
    _e(
        "INV-2101",
        "api.invalid_request",
        "The request is not valid.",
        "A request body or parameter failed the API's checks; the message names the field and what is wrong.",
        "Fix the field named. From the player, this means mismatched versions: update the player or server.",
    ),
    _e(
        "INV-2102",
        "api.no_such_route",
        "There is no such API route.",
        "The address is not one of the API's: a wrong server_url path, or a player newer than the server.",
        "Check server_url (no extra path) and that player and server versions match.",
    ),
    _e(
        "INV-2103",
        "api.method_not_allowed",
        "That route does not take this method.",
        "A client used the wrong HTTP method: mismatched versions or a hand-made request.",
        "Check the API description at /api/v1/docs; match player and server versions.",
    ),
    _e(
        "INV-2104",
        "api.http_error",
        "The server refused the request (HTTP error).",
        "An HTTP-level refusal without a more specific code.",
        "Read the message; check the request against /api/v1/docs.",
    ),
    _e(
        "INV-2105",
        "api.body_too_large",
        "The request is too large.",
        "The body is over the route's limit (`--max-body`); refused before it was read.",
        "Send less. If genuine, the server admin raises the limit with `invigil-server serve --max-body ROUTE=SIZE`.",
    ),
    _e(
        "INV-2106",
        "api.unsupported_media_type",
        "Results were not sent as JSON.",
        "A results upload had another Content-Type than application/json.",
        "Use the Invigil player; a hand-made client must send application/json.",
    ),
    _e(
        "INV-2107",
        "api.unsupported_type",
        "The file type is not accepted.",
        "An upload's Content-Type or content is not one the route takes (evidence: PNG, JPEG, PDF; content: a .zip).",
        "Send the file in an accepted format, as the message says.",
    ),
    _e(
        "INV-2108",
        "api.database_unreachable",
        "The server cannot reach its database.",
        "The server's database is down, unreachable or out of space.",
        "Server admin: check the database and the server log; the server serves again once it is back.",
    ),
    _e(
        "INV-2109",
        "api.schema_not_current",
        "The server's database is not up to date.",
        "The database schema is older or newer than this server version expects.",
        "Server admin: back the database up, then run `invigil-server init` to upgrade it (or use the matching server version).",
    ),
    _e(
        "INV-2110",
        "api.not_found",
        "Not found.",
        "The sitting, student, result, attempt or assessment does not exist, or belongs to another school.",
        "Check you are signed in to the right school and server; reload the list.",
    ),
    _e("INV-2111", "api.no_token", "Sign-in needed.", "The request carried no sign-in token.", "Sign in again."),
    _e(
        "INV-2112",
        "api.bad_token",
        "The sign-in is not valid.",
        "The token is unknown to this server (another server, or its database was replaced).",
        "Sign in again.",
    ),
    _e(
        "INV-2113",
        "api.token_expired",
        "The sign-in has ended.",
        "The staff sign-in expired, was revoked, or the account was deactivated.",
        "Sign in again; an admin reactivates a deactivated account.",
    ),
    _e(
        "INV-2114",
        "api.bad_credentials",
        "Username and password do not match.",
        "A staff sign-in with a wrong username or password.",
        "Check both (Caps Lock); an admin can reset the password with invigil-server.",
    ),
    _e(
        "INV-2115",
        "api.forbidden",
        "Your role may not do this.",
        "The signed-in staff role lacks the permission (e.g. loading content needs admin).",
        "Ask a colleague with the role named, or an admin to change your role.",
    ),
    _e(
        "INV-2116",
        "api.attempt_token_invalid",
        "This computer's test sign-in is no longer valid.",
        "The attempt was moved to another computer, released by the invigilator, or the server's data was reset.",
        "The student types their code again; the invigilator releases it if asked.",
    ),
    _e(
        "INV-2117",
        "api.demo_exists",
        "The demo data is already there.",
        "`invigil-server demo` was run on a database that has it.",
        "Use a fresh --db for a new demo.",
    ),
    # access-code login
    _e(
        "INV-2201",
        "api.unknown_code",
        "Access code not recognised.",
        "The server knows no such code: a typo, an old slip, or this computer is set up for another school's server.",
        "Check the code on the slip; check server_url in the player's config (`invigil doctor`).",
    ),
    _e(
        "INV-2202",
        "api.malformed_code",
        "That is not an access code.",
        "The code typed does not have the format of an access code (length, letters, check character).",
        "Type the code exactly as on the slip.",
    ),
    _e(
        "INV-2203",
        "api.locked_out",
        "Too many wrong codes: wait.",
        "Many wrong codes from this computer, this code's prefix or this school's network; refused until the time given.",
        "Wait until the time in the message, then type the code carefully. If a whole room is locked out, check the slips are for this server.",
    ),
    _e(
        "INV-2204",
        "api.not_open_yet",
        "The test is not open yet.",
        "The sitting's window starts later.",
        "Type the code again at the time in the message; staff can change the sitting's window.",
    ),
    _e(
        "INV-2205",
        "api.sitting_closed",
        "The sitting is closed.",
        "The sitting was closed by staff or its window ended; it can no longer be started or edited.",
        "Ask the invigilator: a new sitting is created for a student who still needs to sit.",
    ),
    _e(
        "INV-2206",
        "api.extension_over",
        "The extra time has ended.",
        "The student's extension (extra time) to finish has passed.",
        "Ask the invigilator.",
    ),
    _e(
        "INV-2207",
        "api.in_use_elsewhere",
        "The code is in use on another computer.",
        "The attempt is open on another computer (a student moved seats, or a code was shared).",
        "The invigilator releases the code in the room view, then the student types it again here.",
    ),
    _e(
        "INV-2208",
        "api.already_finished",
        "The test is already finished.",
        "The attempt was finished; its code cannot start it again, nor can it be released or marked as sitting.",
        "Nothing to do: the answers are kept. Ask the invigilator if this is unexpected.",
    ),
    # staff: students, schools, accounts, sittings
    _e(
        "INV-2301",
        "api.bad_school",
        "A school needs a name.",
        "A school was created without a name.",
        "Give the school a name.",
    ),
    _e(
        "INV-2302",
        "api.bad_role",
        "Unknown role.",
        "A staff account was given a role that does not exist.",
        "Use one of the roles the message lists.",
    ),
    _e(
        "INV-2303",
        "api.bad_username",
        "A username is needed.",
        "A staff account was created without a username.",
        "Give a username.",
    ),
    _e(
        "INV-2304",
        "api.weak_password",
        "The password is too short.",
        "Staff passwords need at least 8 characters.",
        "Choose a longer password.",
    ),
    _e(
        "INV-2305",
        "api.username_taken",
        "The username is taken.",
        "Another staff account has this username.",
        "Choose another username.",
    ),
    _e(
        "INV-2306",
        "api.bad_student",
        "The student's details are not valid.",
        "A student lacks a unique ID or a name, the ID is too long, or extra time is outside 0-400%.",
        "Correct the detail the message names.",
    ),
    _e(
        "INV-2307",
        "api.duplicate_unique_id",
        "A student with this unique ID exists.",
        "Unique IDs are unique within a school.",
        "Use the existing student, or check the ID.",
    ),
    _e(
        "INV-2308",
        "api.student_deactivated",
        "The student is deactivated.",
        "A deactivated student cannot be allocated to a sitting.",
        "Reactivate the student first.",
    ),
    _e(
        "INV-2309",
        "api.bad_credits",
        "Credits must be zero or more.",
        "A negative number of credits was granted.",
        "Grant zero or more credits.",
    ),
    _e(
        "INV-2310",
        "api.no_credits",
        "No services (credits) available.",
        "The school has no credits left for this assessment.",
        "Buy a service for the assessment, or allocate fewer students.",
    ),
    _e(
        "INV-2311",
        "api.insufficient_credits",
        "Not enough credits.",
        "Fewer credits are left than students allocated.",
        "Allocate fewer students or buy more credits.",
    ),
    _e(
        "INV-2312",
        "api.service_expired",
        "The service has expired.",
        "The school's service for this assessment expired.",
        "Renew the service to create sittings.",
    ),
    _e(
        "INV-2313",
        "api.bad_sitting",
        "A sitting needs a name.",
        "A sitting was created without a name.",
        "Give the sitting a name.",
    ),
    _e(
        "INV-2314",
        "api.bad_window",
        "The sitting ends before it starts.",
        "A sitting's end time is not after its start time.",
        "Change the end time.",
    ),
    _e(
        "INV-2315",
        "api.no_students",
        "A sitting needs students.",
        "A sitting would be left with no students.",
        "Add a student, or close the sitting instead.",
    ),
    _e(
        "INV-2316",
        "api.sitting_locked",
        "The sitting can no longer be edited.",
        "Students have already logged in, so its dates and students are fixed.",
        "Create a new sitting for other students or dates.",
    ),
    _e(
        "INV-2317",
        "api.already_closed",
        "The sitting is already closed.",
        "The sitting was closed before.",
        "Nothing to do.",
    ),
    _e(
        "INV-2318",
        "api.not_started",
        "The student has not started.",
        "An action that needs a started attempt (release, pause, end) for a student who has not logged in.",
        "Wait until the student has started.",
    ),
    _e(
        "INV-2319",
        "api.reason_not_for_action",
        "That reason does not fit this action.",
        "An invigilator action was given a reason meant for another action.",
        "Choose one of the reasons the console offers for this action.",
    ),
    _e(
        "INV-2320",
        "api.not_in_sitting",
        "Not in this sitting.",
        "An incident named students who are not allocated to the sitting.",
        "Choose students from this sitting's list.",
    ),
    _e(
        "INV-2321",
        "api.section_unknown",
        "The student's section is not known yet.",
        "The student's computer has not yet reported which section it is in, so the section cannot be ended.",
        "Wait for the next heartbeat (a few seconds) and try again.",
    ),
    _e(
        "INV-2322",
        "api.unknown_section",
        "No such section.",
        "A section id not in the test (an answer, a checkpoint or an end-section action).",
        "Choose one of the test's sections; from the player, this means the package changed: ask IT.",
    ),
    # results and answers
    _e(
        "INV-2401",
        "api.wrong_attempt",
        "Results for a different attempt.",
        "Results were sent for another attempt than the one signed in.",
        "The player resends them under the right attempt; if it persists, send IT the support bundle.",
    ),
    _e(
        "INV-2402",
        "api.idempotency_conflict",
        "Results already received with different content.",
        "A result with the same key arrived earlier with other answers.",
        "Send IT the support bundle: both versions are kept on the computers that sent them.",
    ),
    _e(
        "INV-2403",
        "api.answered_too_late",
        "The results came after the deadline.",
        "The answers were given after the test's deadline (with extra time), so they are not stored.",
        "The invigilator decides; the answers stay on the player computer (Unsent results).",
    ),
    _e(
        "INV-2404",
        "api.unknown_item",
        "No such question.",
        "An answer or mark named an item not in the test.",
        "From the player, the package changed: ask IT. In marking: reload the answers.",
    ),
    _e(
        "INV-2405",
        "api.answered_twice",
        "An item is answered twice.",
        "One results envelope answers the same item twice.",
        "A player fault: send IT the support bundle.",
    ),
    _e(
        "INV-2406",
        "api.not_an_option",
        "Not one of the item's options.",
        "A choice names an option the item does not have.",
        "The package changed under a running test: ask IT.",
    ),
    _e(
        "INV-2407",
        "api.too_many_choices",
        "Too many options chosen.",
        "More options were chosen than the item allows.",
        "A player fault: send IT the support bundle.",
    ),
    _e(
        "INV-2408",
        "api.answer_too_long",
        "An answer is too long.",
        "A text answer is longer than its item accepts.",
        "Shorten the answer; from the player, send IT the support bundle.",
    ),
    _e(
        "INV-2409",
        "api.wrong_answer_shape",
        "An answer has the wrong shape.",
        "Text given for a choice item, or a choice for a text item.",
        "The package changed under a running test: ask IT.",
    ),
    _e(
        "INV-2410",
        "api.too_large",
        "The evidence file is too large.",
        "Evidence files are limited in size.",
        "Scan at a lower resolution or save as a smaller PDF.",
    ),
    _e(
        "INV-2411",
        "api.no_dictation",
        "The test has no dictation.",
        "A dictation score was entered for a test without dictation items.",
        "Leave the dictation score empty.",
    ),
    _e(
        "INV-2412",
        "api.not_on_scale",
        "The score is not on the scale.",
        "A manual score is outside the test's scale.",
        "Enter a number in the range the message gives.",
    ),
    _e(
        "INV-2413",
        "api.not_hand_marked",
        "This item is marked automatically.",
        "A hand mark was given for an item the test marks itself.",
        "Mark only extended-text items.",
    ),
    _e(
        "INV-2414",
        "api.not_marked",
        "The result could not be marked.",
        "The result failed automatic marking, so hand marks cannot be added yet.",
        "Run the marking again on the server (the message says how).",
    ),
    _e(
        "INV-2415",
        "api.nothing_to_mark",
        "The item was left blank.",
        "A blank answer scores 0 and needs no mark.",
        "Nothing to do.",
    ),
    _e(
        "INV-2416",
        "api.still_sitting",
        "The student is still sitting.",
        "Answers are marked by hand once the student has finished.",
        "Mark after the student finishes.",
    ),
    _e(
        "INV-2417",
        "api.score_too_precise",
        "The score has too many decimals.",
        "Scores have at most two decimals.",
        "Round the score (e.g. 2.5).",
    ),
    _e(
        "INV-2418",
        "api.score_out_of_range",
        "The score is more than the item is worth.",
        "A hand mark above the item's maximum.",
        "Give a score from 0 to the maximum the message names.",
    ),
    _e(
        "INV-2419",
        "api.marked_meanwhile",
        "Someone else marked it meanwhile.",
        "Another marker saved a mark for this answer after you loaded it.",
        "Load the answer again to see their mark; mark again if needed.",
    ),
    # result codes typed or scanned in by staff
    _e(
        "INV-2501",
        "api.result_code_empty",
        "The result code is empty.",
        "No code was pasted or typed.",
        "Paste or type the whole code shown on the student's computer.",
    ),
    _e(
        "INV-2502",
        "api.result_code_bad_character",
        "The result code has a wrong character.",
        "A character that result codes never contain (often a mistyped letter).",
        "Check the character the message points to.",
    ),
    _e(
        "INV-2503",
        "api.result_code_check_failed",
        "The result code has a typing mistake.",
        "A group's check character does not match: a character is wrong or missing.",
        "Compare the group named with the student's screen or slip.",
    ),
    _e(
        "INV-2504",
        "api.result_code_truncated",
        "The result code is cut short.",
        "Part of the code is missing.",
        "Copy the whole code (every group, to the end).",
    ),
    _e(
        "INV-2505",
        "api.result_code_too_long",
        "The result code is too long.",
        "More text than any result code holds: two codes pasted, or extra text.",
        "Paste exactly one code.",
    ),
    _e(
        "INV-2506",
        "api.result_code_unknown_version",
        "The result code's format is unknown.",
        "A code from a newer (or much older) player than this server reads.",
        "Update the server to the player's version.",
    ),
    _e(
        "INV-2507",
        "api.result_code_wrong_attempt",
        "The result code is not for this attempt.",
        "The code decodes, but belongs to another attempt than the one it was checked against.",
        "Check it was copied from the right student.",
    ),
    _e(
        "INV-2508",
        "api.result_code_not_authentic",
        "The result code is not authentic.",
        "The code fails its signature check: altered, or made for another server.",
        "Copy it again from the student's computer; check the computer is set up for this server.",
    ),
    _e(
        "INV-2509",
        "api.result_code_unreadable",
        "The result code cannot be read.",
        "The code decoded but its content is damaged.",
        "Copy it again from the student's computer or slip.",
    ),
    # ---- 3xxx sitting, audio, answers and results on the player ----------------------------------------------
    # A failed sign-in shows the student a plain sentence and the number of its cause (the client's or the
    # server's: INV-2001 no connection, INV-2002 certificate, INV-2201 unknown code...), which tells IT the rest.
    _e(
        "INV-3001",
        "login.cannot_start",
        "The test cannot be started on this computer.",
        "The answers journal refused to open the attempt (disk full, damaged journal).",
        "IT: check the data folder's disk; send the support bundle.",
    ),
    _e(
        "INV-3002",
        "login.unexpected",
        "Something went wrong on this computer.",
        "An unexpected error while signing in; the log has the details.",
        "Tell the invigilator; IT sends the support bundle.",
    ),
    _e(
        "INV-3003",
        "login.no_console",
        "The staff console is not in this build.",
        "This build of the player was made without the staff console.",
        "Use the Invigil build with the staff console.",
    ),
    _e(
        "INV-3004",
        "login.enter_again",
        "Type the access code again.",
        "The computer restarted mid-test, or the test's files must be checked again; the answers so far are kept.",
        "Type the same code again to continue where you left off.",
    ),
    _e(
        "INV-3005",
        "login.moved",
        "The test was moved to another computer.",
        "The invigilator released this computer's attempt, or the student signed in elsewhere.",
        "Type the code on the computer the student now uses.",
    ),
    _e(
        "INV-3101",
        "audio.missing",
        "The recording is missing from this computer.",
        "A recording of this question is not in the media cache (deleted or never downloaded).",
        "Tell the invigilator; typing the code again downloads it.",
    ),
    _e(
        "INV-3102",
        "audio.device",
        "No sound output, or it was lost.",
        "No audio output device, or it was unplugged during a play; the play is given back.",
        "Plug in headphones or speakers, then Try again.",
    ),
    _e(
        "INV-3103",
        "audio.damaged",
        "The recording could not be played.",
        "The audio file is damaged or in a format this computer cannot play.",
        "Tell the invigilator. IT: check the package's audio files and `invigil doctor`.",
    ),
    _e(
        "INV-3104",
        "audio.not_heard",
        "The sound check was not heard.",
        "The student did not hear the sound check clip.",
        "Check the volume and headphones, then Try again.",
    ),
    _e(
        "INV-3201",
        "result.no_code",
        "No result code can be made.",
        "The result is too large for a result code (very long written answers).",
        "Keep the computer until the result is sent over the network; the console's Unsent results lists it.",
    ),
    _e(
        "INV-3202",
        "result.save_failed",
        "The result code or slip could not be saved.",
        "The chosen folder cannot be written (a removed USB stick, no permission, a full disk).",
        "Choose another place, such as a USB stick, or copy the code instead.",
    ),
    # ---- 4xxx staff console --------------------------------------------------------------------------------
    _e(
        "INV-4001",
        "console.input_needed",
        "A choice or value is needed first.",
        "An action was started before choosing a student, a row or a file, or with a value the form does not accept.",
        "Do what the message says, then try again.",
    ),
    _e(
        "INV-4002",
        "console.file_failed",
        "A file could not be saved or read.",
        "The folder does not exist, cannot be written, or the disk is full.",
        "Check the folder exists and you may write there, or choose another.",
    ),
    _e(
        "INV-4003",
        "console.unexpected",
        "An unexpected error in the console.",
        "A fault in the console; the log file has the details.",
        _ASK_IT,
    ),
    _e(
        "INV-4004",
        "console.not_logged",
        "Done, but not noted in the sitting's log.",
        "The export or print worked but the server could not be told.",
        "Nothing is lost; note it by hand if the log matters, and check the connection.",
    ),
    _e(
        "INV-4005",
        "console.slips_failed",
        "The slips could not be made.",
        "The slips PDF could not be written (the message says why).",
        "Choose another folder or fewer students, then try again.",
    ),
    _e(
        "INV-4006",
        "console.no_camera",
        "No camera found.",
        "This computer has no camera the console can use.",
        "Open a photo or screenshot of the QR code, or paste one.",
    ),
    _e(
        "INV-4007",
        "console.camera_failed",
        "The camera stopped.",
        "The camera failed or was taken by another program.",
        "Close other programs using the camera, or open an image instead.",
    ),
    _e(
        "INV-4008",
        "console.qr_unreadable",
        "No QR code could be read.",
        "The picture holds no readable QR code, or not one from Invigil.",
        "Use a sharp picture of the whole QR code, or type the code.",
    ),
    _e(
        "INV-4009",
        "console.incident_invalid",
        "The incident is not complete.",
        "A field of the incident is missing or too long.",
        "Complete the field named, then add it again.",
    ),
    _e(
        "INV-4010",
        "console.result_code_invalid",
        "The result code is not valid.",
        "The code typed or scanned has a mistake (the message says where).",
        "Correct it from the student's screen or slip.",
    ),
    _e(
        "INV-4011",
        "console.journal_unreadable",
        "This computer's saved results cannot be read.",
        "The answers journal could not be read for the Unsent results list (damaged, or written by a newer player).",
        "Do not wipe this computer: send IT the support bundle; the details are in the player log.",
    ),
    # ---- 5xxx doctor checks ---------------------------------------------------------------------------------
    _e(
        "INV-5001",
        "doctor.config",
        "Config problem.",
        "The machine config cannot be read or has an invalid value.",
        "Fix the file and key the check names (docs/player-config.md).",
    ),
    _e(
        "INV-5002",
        "doctor.server",
        "Server not reachable.",
        "The configured server_url does not answer.",
        "Check server_url, the network and firewall, and that the server runs.",
    ),
    _e(
        "INV-5003",
        "doctor.tls",
        "TLS certificate not trusted.",
        "The server's certificate does not verify with the configured CA bundle.",
        "Set ca_bundle to the CA (or web filter) certificate that signed the server's.",
    ),
    _e(
        "INV-5004",
        "doctor.api_version",
        "Player and server versions differ.",
        "The server's API version is not one this player speaks.",
        "Install matching player and server versions.",
    ),
    _e(
        "INV-5005",
        "doctor.clock",
        "The clock is wrong.",
        "This computer's clock differs from the server's by over 60 s (warning) or 5 min (failure); timers depend on it.",
        "Turn on automatic time (NTP) on this computer.",
    ),
    _e(
        "INV-5006",
        "doctor.audio_output",
        "No audio output.",
        "No sound output device was found.",
        "Plug in headphones or speakers; check the sound settings.",
    ),
    _e(
        "INV-5007",
        "doctor.audio_tone",
        "The test tone did not play.",
        "A short tone could not be played on the output.",
        "Check the output device, its volume, and that no other program holds it.",
    ),
    _e(
        "INV-5008",
        "doctor.disk_space",
        "Too little disk space.",
        "The data folder's disk has under 200 MB free.",
        "Free space on that disk, or move data_dir.",
    ),
    _e(
        "INV-5009",
        "doctor.wal",
        "The journal cannot work in the data folder.",
        "SQLite's write-ahead log does not work there (a network drive or a read-only folder).",
        "Put data_dir on a local, writable disk.",
    ),
    _e(
        "INV-5010",
        "doctor.keyring",
        "No usable keyring.",
        "The system keyring (for staff sign-in) is missing or locked.",
        "Install or unlock the system keyring (see docs/deployment.md).",
    ),
    _e(
        "INV-5011",
        "doctor.display",
        "The screen is too small.",
        "The display is smaller than 1024x768.",
        "Use a larger screen or resolution.",
    ),
    _e(
        "INV-5012",
        "doctor.unsent_results",
        "Results waiting to be sent.",
        "This computer holds results the server has not received.",
        "Connect it to the server, or hand the result codes in (console: Unsent results). Do not wipe it.",
    ),
    _e(
        "INV-5013",
        "doctor.machine_name",
        "The machine name is a generated ID.",
        "No machine name is set, so the room view shows a generated ID.",
        "Set machine_name in the config (e.g. the desk label).",
    ),
    # ---- 6xxx kiosk ---------------------------------------------------------------------------------------
    _e(
        "INV-6001",
        "kiosk.close_refused",
        "The test window cannot be closed now.",
        "Kiosk mode refuses closing while a sitting runs.",
        "Finish the test, or ask the invigilator to unlock this computer.",
    ),
    _e(
        "INV-6002",
        "kiosk.exit_code_wrong",
        "Wrong exit code.",
        "The one-time exit code typed is not this computer's.",
        "Type the code the console shows for this computer.",
    ),
    _e(
        "INV-6003",
        "kiosk.exit_code_expired",
        "The exit code has expired.",
        "One-time exit codes are valid for a short time, once.",
        "Ask the console for a new exit code for this computer.",
    ),
    # ---- 7xxx content and QTI loading ----------------------------------------------------------------------
    _e(
        "INV-7001",
        "api.bad_package",
        "The content package was refused.",
        "The package failed a check (manifest, media, QTI, scoring); the message names the file, field and what to do.",
        "Fix the file and field named and load the package again (docs/content-format.md).",
    ),
    _e(
        "INV-7002",
        "api.version_exists",
        "This version is already loaded with other content.",
        "A package with the same id and version but different content is on the server.",
        "Raise the version in the manifest, then load it.",
    ),
    _e(
        "INV-7003",
        "api.content_uploads_off",
        "Content uploads are off.",
        "The server was started without --content-uploads.",
        "Load it on the server with `invigil-server load-assessment`, or start the server with --content-uploads.",
    ),
)


_BY_KEY: dict[str, Entry] = {entry.key: entry for entry in ENTRIES}
_BY_NUMBER: dict[str, Entry] = {entry.number: entry for entry in ENTRIES}


def number_for(key: str) -> str:
    """The number of `key` ("doctor.clock" -> "INV-5005"); KeyError naming the file to add it to."""
    try:
        return _BY_KEY[key].number
    except KeyError:
        raise KeyError(f"{key!r} has no entry in sync/error_catalogue.py; add one (a new number)") from None


def lookup(key: str) -> Entry | None:
    return _BY_KEY.get(key)


def by_number(number: str) -> Entry | None:
    return _BY_NUMBER.get(number)


def problem(key: str, text: str) -> Problem:
    """`text` as a person reads it, numbered by `key`'s entry."""
    return Problem(text, number_for(key))


def api_number(code: str) -> str | None:
    """The number of a server refusal code ("unknown_code" -> "INV-2201"); None for a code with no entry."""
    entry = _BY_KEY.get(f"api.{code}")
    return entry.number if entry else None


def markdown() -> str:
    """docs/errors.md: every entry by area, in number order."""
    lines = [
        "# Error numbers",
        "",
        "<!-- Generated from sync/error_catalogue.py by `python -m sync.error_catalogue --markdown > docs/errors.md`;"
        " do not edit by hand. -->",
        "",
        "Every error Invigil shows carries a number such as INV-2201, shown small under the message (or after it,",
        "in brackets). Quote it on a support call; find it here for its cause and fix. Numbers never change.",
        "Server refusals carry theirs in the JSON body's `number` field, beside the stable `error` code.",
        "",
    ]
    for area in AREAS:
        entries = sorted((e for e in ENTRIES if e.area == area), key=lambda e: e.number)
        lines += [f"## {area.digit}xxx {area.title}", "", area.about, ""]
        lines += ["| Number | Key | What | Cause | Fix |", "|---|---|---|---|---|"]
        lines += [
            f"| {e.number} | `{e.key}` | {_cell(e.summary)} | {_cell(e.cause)} | {_cell(e.fix)} |" for e in entries
        ]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--markdown"]:
        sys.stdout.write(markdown())
        return 0
    if len(args) == 1 and (entry := by_number(args[0].upper()) or lookup(args[0])) is not None:
        print(f"{entry.number} {entry.key}: {entry.summary}\nCause: {entry.cause}\nFix: {entry.fix}")
        return 0
    print("usage: python -m sync.error_catalogue --markdown | INV-xxxx | KEY", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
