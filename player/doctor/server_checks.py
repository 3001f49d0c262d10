"""The checks that talk to the server: reachable, TLS verified, a compatible version, and this clock against its."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from urllib.parse import urlsplit

from player.doctor.context import Context, failure, not_checked, ok, warning
from player.doctor.probe import HealthReply, Outcome, TlsProblem, names_cover
from player.doctor.report import Check
from sync.version import VERSION

CLOCK_WARN_SECONDS = 60
CLOCK_FAIL_SECONDS = 5 * 60
"""Timers count on this machine's clock and the server compares times with its own: minutes out, a section's
end and the server's idea of it disagree."""

NO_CONFIG = "the config could not be read (see Settings)"


def _origin(ctx: Context, key: str) -> str:
    assert ctx.config is not None
    return ctx.config.origins.get(key, "default")


def check_server(ctx: Context) -> Check:
    key, title = "server", "Server reachable"
    reply = ctx.health()
    if ctx.config is None or reply is None:
        return not_checked(key, title, NO_CONFIG)
    url = ctx.config.server_url
    where = f"server_url is {url} (from {_origin(ctx, 'server_url')})"
    if reply.outcome is Outcome.ANSWERED:
        return ok(key, title, reply.message)
    if reply.outcome is Outcome.UNTRUSTED:
        return ok(key, title, f"Something answers at {url}, but the secure connection failed (see the TLS check).")
    if reply.outcome is Outcome.UNREACHABLE:
        return failure(
            key,
            title,
            reply.message,
            f"Check that the server runs (`invigil-server serve`), that this computer's network reaches it, and that "
            f"the address is right: {where}.",
        )
    return failure(
        key,
        title,
        reply.message,
        f"Check that server_url names the Invigil server itself, not a web page or a network sign-in page: {where}.",
    )


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls(ctx: Context) -> Check:
    key, title = "tls", "Secure connection (TLS)"
    reply = ctx.health()
    if ctx.config is None or reply is None:
        return not_checked(key, title, NO_CONFIG)
    parts = urlsplit(ctx.config.server_url)
    if parts.scheme == "http":
        if _is_loopback(parts.hostname):
            return ok(key, title, "Not used: the server is on this computer (http to a loopback address).")
        return warning(
            key,
            title,
            f"Not encrypted: server_url is {ctx.config.server_url}, so answers and staff passwords cross the network "
            "where anyone on it can read them.",
            "Serve Invigil over https (see docs/server.md) and set server_url to its https:// address.",
        )
    trusted_by = (
        f"the CA bundle {ctx.config.ca_bundle} (ca_bundle, from {_origin(ctx, 'ca_bundle')})"
        if ctx.config.ca_bundle is not None
        else "this computer's trusted certificate authorities"
    )
    if reply.outcome is Outcome.ANSWERED:
        return ok(key, title, f"The server's certificate is verified with {trusted_by}.")
    if reply.outcome is Outcome.UNTRUSTED:
        if reply.tls_problem is TlsProblem.PLAIN_HTTP:
            return _plain_http(ctx, key, title)
        if reply.tls_problem is TlsProblem.NAME_MISMATCH:
            return _name_mismatch(ctx, key, title, reply)
        if ctx.config.ca_bundle is not None:
            fix = (
                f"The server's certificate is not signed by a CA in {ctx.config.ca_bundle}: ask IT for the PEM file of "
                "the CA that signed it (a web filter's own CA, if it re-signs secure connections) and set ca_bundle to it."
            )
        else:
            fix = (
                "The server's certificate is self-signed or signed by a CA this computer does not trust. If the school's "
                "web filter re-signs secure connections, set ca_bundle in the machine-wide config to the filter's CA "
                "certificate (a PEM file; docs/player-config.md); otherwise give the server a certificate from a "
                "trusted CA."
            )
        detail = f"Not trusted: {reply.message}"
        host = parts.hostname or parts.netloc
        if reply.certificate_names and not names_cover(host, reply.certificate_names):
            detail += (
                f" It is also for other names ({', '.join(reply.certificate_names)}), not for {host}: once it is "
                "trusted, server_url must use one of them (or the certificate be reissued for this name)."
            )
        return failure(key, title, detail, fix)
    return not_checked(key, title, "the server could not be reached (see Server reachable)")


def _plain_http(ctx: Context, key: str, title: str) -> Check:
    assert ctx.config is not None
    parts = urlsplit(ctx.config.server_url)
    http_url = parts._replace(scheme="http").geturl()
    return failure(
        key,
        title,
        f"No secure connection: the server at {parts.netloc} answers plain HTTP, not HTTPS (it runs without TLS, as "
        "`invigil-server serve` does with no certificate). A CA bundle would not help.",
        f"Set server_url to {http_url} (it is {ctx.config.server_url}, from {_origin(ctx, 'server_url')}), or turn "
        "TLS on at the server (docs/server.md) and keep https://.",
        entry="tls_plain_http",
    )


def _name_mismatch(ctx: Context, key: str, title: str, reply: HealthReply) -> Check:
    assert ctx.config is not None
    parts = urlsplit(ctx.config.server_url)
    host = parts.hostname or parts.netloc
    names = reply.certificate_names
    if names:
        listed = ", ".join(names)
        detail = (
            f"The server's certificate is for {listed}, not for {host}, the name in server_url. A CA bundle would "
            "not help."
        )
        usable = [name for name in names if "*" not in name]
        example = ""
        if usable:
            shown = f"[{usable[0]}]" if ":" in usable[0] else usable[0]
            example = " (" + parts._replace(netloc=shown + (f":{parts.port}" if parts.port else "")).geturl() + ")"
        use = f"Use the certificate's name in server_url{example}"
    else:
        detail = (
            f"The server's certificate is not for {host}, the name in server_url (its names could not be read). A CA "
            "bundle would not help."
        )
        use = "Use the name the server's certificate is for in server_url"
    return failure(
        key,
        title,
        detail,
        f"{use}: it is {ctx.config.server_url}, from {_origin(ctx, 'server_url')}; or have the certificate reissued "
        f"for {host}.",
        entry="tls_name_mismatch",
    )


def _version_tuple(text: str) -> tuple[int, ...] | None:
    found = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if found is None:
        return None
    return tuple(int(part) for part in found.groups(default="0"))


def check_api_version(ctx: Context) -> Check:
    """Compatible: the same major version, and for 0.x the same minor too (0.x minors may change the API); an
    older server of the same line is a warning (a newer player may ask for what it lacks)."""
    key, title = "api_version", "Server version"
    reply = ctx.health()
    if ctx.config is None or reply is None:
        return not_checked(key, title, NO_CONFIG)
    if reply.outcome is not Outcome.ANSWERED:
        return not_checked(key, title, "the server did not answer (see the checks above)")
    fix_same = f"Install the same Invigil version on the server and this computer (this player is {VERSION})."
    if reply.server_version is None:
        return warning(
            key, title, "The server does not say its version: it is older than this player (0.1.0 or before).", fix_same
        )
    server, player = _version_tuple(reply.server_version), _version_tuple(VERSION)
    if server is None or player is None:
        return warning(key, title, f"The server's version {reply.server_version!r} cannot be read.", fix_same)
    line = 2 if player[0] == 0 else 1
    if server[:line] != player[:line]:
        return failure(
            key,
            title,
            f"Incompatible: the server is {reply.server_version}, this player is {VERSION}; they speak different "
            "versions of the API.",
            fix_same,
        )
    if server < player and server[:2] != player[:2]:
        return warning(
            key, title, f"The server ({reply.server_version}) is older than this player ({VERSION}).", fix_same
        )
    return ok(key, title, f"Server {reply.server_version}, player {VERSION}: compatible (API v1).")


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def check_clock(ctx: Context) -> Check:
    key, title = "clock", "Clock against the server"
    reply = ctx.health()
    if ctx.config is None or reply is None:
        return not_checked(key, title, NO_CONFIG)
    if reply.outcome is not Outcome.ANSWERED:
        return not_checked(key, title, "the server did not answer (see the checks above)")
    if reply.server_date is None:
        return warning(
            key,
            title,
            "The clocks could not be compared: the server's reply had no Date header (a proxy may remove it).",
            "Let the proxy in front of the server pass the Date header, then run doctor again.",
        )
    # The server stamped its Date somewhere in the request; halfway is the best guess of when. Date has whole
    # seconds, cut down: the server's time then was half a second later on average.
    here = ctx.edges.now() - timedelta(seconds=reply.elapsed_seconds / 2)
    skew = (here - (reply.server_date + timedelta(seconds=0.5))).total_seconds()
    if abs(skew) < 1.5:
        return ok(key, title, "This computer's clock agrees with the server's.")
    direction = "ahead of" if skew > 0 else "behind"
    detail = f"This computer's clock is {_span(skew)} {direction} the server's."
    fix = (
        "Set this computer to get its time from the network (NTP: Windows Time, systemd-timesyncd or chrony), "
        "the same source as the server; timers and the server's records depend on it."
    )
    if abs(skew) > CLOCK_FAIL_SECONDS:
        return failure(key, title, detail, fix)
    if abs(skew) > CLOCK_WARN_SECONDS:
        return warning(key, title, detail, fix)
    return ok(key, title, detail + " (under a minute: fine)")
