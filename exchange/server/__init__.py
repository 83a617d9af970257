"""The asyncio server: actors per symbol, gateway, sessions, journal and the command line."""
