"""A server address the network library cannot parse (config validation refuses these, but a client can be made
with any string) is the client's numbered "cannot reach" error naming the address, never a raw urllib3 error."""

from __future__ import annotations

import pytest

from sync.client.errors import Unreachable
from sync.client.player import PlayerCalls


@pytest.mark.parametrize(
    "base_url",
    [
        "http://" + "a" * 64 + ".example:9",  # urllib3's LocationParseError, raised only when connecting
        "http://invigil..example:9",  # the same: an empty label
        "http://*invigil.example:9",  # requests' own InvalidURL
    ],
)
def test_logging_in_to_an_address_that_cannot_be_parsed_is_a_numbered_bad_address(base_url: str) -> None:
    calls = PlayerCalls(base_url, timeout=2)

    with pytest.raises(Unreachable) as caught:
        calls.login("ABCD-EFGH-JKMN")

    assert caught.value.number == "INV-2001"
    assert str(caught.value).startswith(f"Cannot reach the server at {base_url}: its address is not valid")
    assert "ask IT to correct server_url" in str(caught.value)
