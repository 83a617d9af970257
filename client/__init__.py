"""The asyncio client library."""
