"""Tests of the matching core (exchange.core)."""
