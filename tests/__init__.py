"""The project's tests (a package so that scripts can import shared helpers)."""
