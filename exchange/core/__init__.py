"""The matching core: symbols, books, orders, accounts, market data.

Synchronous, with no clock and no I/O: time is passed in, results are returned.
"""
