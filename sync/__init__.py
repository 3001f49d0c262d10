"""Everything between the room and the centre: wire types, result codes, the HTTP client and the server."""
