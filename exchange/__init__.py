"""The exchange: a pure matching core (`exchange.core`) and the asyncio server on it."""
