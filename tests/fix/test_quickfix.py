"""End to end with QuickFIX, a widely used FIX engine, as the client.

QuickFIX's initiator logs on (validating everything the gateway sends against its own
FIX44.xml: a message it found invalid would make it send a Reject, which fails the test),
places orders, replaces and cancels one, and receives the fills of a trade against a
JSON-lines order. The binding is a test dependency (``.[dev]``); it is imported at the
top, so if it is missing the test fails.
"""

from __future__ import annotations

import asyncio
import queue
import sys
from pathlib import Path
from typing import Any

import quickfix as fix
import quickfix44 as fix44

from tests.fix.conftest import FixServer
from tests.server.wire import connect

DICTIONARY = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"


class Client(fix.Application):  # type: ignore[misc]
    """Collects what the engine receives; fills in the Logon's Password."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.app: queue.Queue[dict[int, str]] = queue.Queue()
        self.logged_on: queue.Queue[str] = queue.Queue()
        self.rejects_sent: list[str] = []
        self.session: Any = None

    def onCreate(self, session: Any) -> None:  # QuickFIX names the callbacks
        self.session = session

    def onLogon(self, session: Any) -> None:
        self.logged_on.put("logon")

    def onLogout(self, session: Any) -> None:
        self.logged_on.put("logout")

    def toAdmin(self, message: Any, session: Any) -> None:
        kind = message.getHeader().getField(35)
        if kind == "A":
            message.setField(fix.StringField(554, self.token))
        elif kind == "3":
            self.rejects_sent.append(message.toString().replace("\x01", "|"))

    def fromAdmin(self, message: Any, session: Any) -> None:
        pass

    def toApp(self, message: Any, session: Any) -> None:
        pass

    def fromApp(self, message: Any, session: Any) -> None:
        fields: dict[int, str] = {}
        text = message.toString()
        for item in text.split("\x01"):
            if "=" in item:
                tag, _, value = item.partition("=")
                fields.setdefault(int(tag), value)
        self.app.put(fields)


def settings_file(tmp: Path, port: int, user: str) -> Path:
    path = tmp / f"{user}.cfg"
    path.write_text(f"""[DEFAULT]
ConnectionType=initiator
ReconnectInterval=60
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=Y
DataDictionary={DICTIONARY}
ValidateFieldsOutOfOrder=Y
ValidateFieldsHaveValues=Y
ValidateUserDefinedFields=Y
ResetOnLogon=Y
FileLogPath={tmp / "qf-log"}

[SESSION]
BeginString=FIX.4.4
SenderCompID={user}
TargetCompID=EXCHANGE
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
HeartBtInt=30
""")
    return path


async def take(q: queue.Queue[Any], timeout: float = 10.0) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: q.get(True, timeout))


def order(cl_ord_id: str, side: str, qty: str, price: str) -> Any:
    msg = fix44.NewOrderSingle()
    msg.setField(fix.ClOrdID(cl_ord_id))
    msg.setField(fix.Side(side))
    msg.setField(fix.TransactTime())
    msg.setField(fix.OrdType(fix.OrdType_LIMIT))
    msg.setField(fix.Symbol("AAPL"))
    msg.setField(fix.StringField(38, qty))
    msg.setField(fix.StringField(44, price))
    msg.setField(fix.TimeInForce(fix.TimeInForce_GOOD_TILL_CANCEL))
    return msg


async def test_quickfix_places_replaces_cancels_and_receives_fills(
        fix_server: FixServer, tmp_path: Path) -> None:
    app = Client("alice-token")
    settings = fix.SessionSettings(str(settings_file(tmp_path, fix_server.fix[1], "alice")))
    initiator = fix.SocketInitiator(app, fix.MemoryStoreFactory(), settings,
                                    fix.FileLogFactory(settings))
    initiator.start()
    try:
        assert await take(app.logged_on) == "logon"
        session = app.session

        def send(msg: Any) -> None:
            assert fix.Session.sendToTarget(msg, session)

        send(order("q1", fix.Side_BUY, "10", "149.00"))
        new = await take(app.app)
        assert (new[35], new[150], new[39], new[11]) == ("8", "0", "0", "q1")

        replace = fix44.OrderCancelReplaceRequest()
        for f in (fix.OrigClOrdID("q1"), fix.ClOrdID("q2"), fix.Side(fix.Side_BUY),
                  fix.TransactTime(), fix.OrdType(fix.OrdType_LIMIT), fix.Symbol("AAPL")):
            replace.setField(f)
        replace.setField(fix.StringField(38, "8"))
        replace.setField(fix.StringField(44, "150.00"))
        send(replace)
        replaced = await take(app.app)
        assert (replaced[150], replaced[11], replaced[41], replaced[38], replaced[44]) == (
            "5", "q2", "q1", "8", "150.00")

        bob = await connect(fix_server.addr, "bob")
        sold = await bob.request("place", symbol="AAPL", side="sell", qty="3", price="150.00")
        assert sold["order"]["filled_qty"] == "3"
        fill = await take(app.app)
        assert (fill[150], fill[39], fill[32], fill[31], fill[14], fill[151], fill[11]) == (
            "F", "1", "3", "150.00", "3", "5", "q2")

        cancel = fix44.OrderCancelRequest()
        for f in (fix.OrigClOrdID("q2"), fix.ClOrdID("q3"), fix.Side(fix.Side_BUY),
                  fix.TransactTime(), fix.Symbol("AAPL")):
            cancel.setField(f)
        send(cancel)
        canceled = await take(app.app)
        assert (canceled[150], canceled[39], canceled[11], canceled[41], canceled[14]) == (
            "4", "4", "q3", "q2", "3")

        send(cancel)  # again, with the same ClOrdID: a duplicate
        duplicate = await take(app.app)
        assert (duplicate[35], duplicate[102], duplicate[11]) == ("9", "6", "q3")
        cancel.setField(fix.OrigClOrdID("q3"))
        cancel.setField(fix.ClOrdID("q4"))
        send(cancel)  # the order by its latest ClOrdID: too late, it is canceled
        late = await take(app.app)
        assert (late[35], late[102], late[434], late[39], late[37]) == (
            "9", "0", "1", "4", new[37])

        assert app.rejects_sent == []
    finally:
        initiator.stop()
