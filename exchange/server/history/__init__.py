"""The history store: ended orders, trades, cash movements, the audit trail and the
inbox, kept in SQLite off the order path and derived from the journal.

- :mod:`.schema`: the tables;
- :mod:`.feed`: what each command did, as rows (on the event loop, between commands);
- :mod:`.store`: the store's seam and the SQLite store with its writer thread;
- :mod:`.queries`: the questions the server asks of it;
- :mod:`.rebuild`: catching up with the journal at start-up.

``docs/HISTORY.md`` describes it for users and operators.
"""
