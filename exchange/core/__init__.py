"""The matching core: symbols, books, orders, accounts and market data. Synchronous, no clock, no I/O."""
