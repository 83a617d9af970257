"""QuickFIX's FIX 4.4 data dictionary, as a validator.

The dictionary is the FIX44.xml the QuickFIX package installs (``<prefix>/share/quickfix``),
the standard one QuickFIX engines validate with; the QuickFIX binding is a test dependency
(``.[dev]``), so a missing file fails the tests rather than skipping them.

``DICTIONARY.check(pairs)`` raises AssertionError naming what is wrong with a message:
header first (BeginString, BodyLength, MsgType) and CheckSum last, every required field
of the header, the message and its required components present, no field that the
message does not define, no field twice outside a repeating group, group counts that
match their entries, enumerations valid, values well formed for their type (UTCTimestamp
``YYYYMMDD-HH:MM:SS[.sss]``, numbers without exponents, Y/N booleans).
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SPEC = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"

_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_INT = re.compile(r"-?\d+")
_TIMESTAMP = re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}(?:\.\d{3})?")


@dataclass
class Part:
    """A message, component or group entry: its fields and groups, with what is required."""

    fields: dict[int, bool] = field(default_factory=dict)  # tag -> required
    groups: dict[int, tuple[bool, Part, int]] = field(default_factory=dict)
    # count tag -> (required, entry, delimiter tag)


class Dictionary:
    def __init__(self, path: Path = SPEC) -> None:
        root = ET.parse(path).getroot()
        self.tags: dict[str, int] = {}
        self.types: dict[int, str] = {}
        self.enums: dict[int, set[str]] = {}
        for f in root.find("fields") or []:
            tag = int(f.get("number", "0"))
            self.tags[f.get("name", "")] = tag
            self.types[tag] = f.get("type", "STRING")
            values = {v.get("enum", "") for v in f}
            if values:
                self.enums[tag] = values
        self._components = {c.get("name", ""): c for c in root.find("components") or []}
        self.header = self._part(root.find("header"))
        self.trailer = self._part(root.find("trailer"))
        self.messages: dict[str, Part] = {}
        for m in root.find("messages") or []:
            self.messages[m.get("msgtype", "")] = self._part(m)

    def _part(self, node: ET.Element | None) -> Part:
        part = Part()
        for child in node if node is not None else []:
            self._add(part, child, child.get("required") == "Y")
        return part

    def _add(self, part: Part, child: ET.Element, required: bool) -> None:
        name = child.get("name", "")
        if child.tag == "field":
            part.fields[self.tags[name]] = required
        elif child.tag == "group":
            entry = self._part(child)
            first = child[0]
            if first.tag == "field":
                delimiter = self.tags[first.get("name", "")]
            else:  # a group that starts with a component: its first field
                comp = self._components[first.get("name", "")]
                delimiter = self.tags[comp[0].get("name", "")]
            part.groups[self.tags[name]] = (required, entry, delimiter)
        elif child.tag == "component":
            comp = self._components[name]
            for sub in comp:
                # A required component makes its required fields required.
                self._add(part, sub, required and sub.get("required") == "Y")

    # -- checking ---------------------------------------------------------------------------
    def check(self, pairs: list[tuple[int, str]]) -> None:
        assert [t for t, _ in pairs[:3]] == [8, 9, 35], f"header order: {pairs[:3]}"
        assert pairs[-1][0] == 10, "CheckSum is not last"
        assert pairs[0][1] == "FIX.4.4"
        wire = b"".join(b"%d=%s\x01" % (t, v.encode()) for t, v in pairs)
        body_start = wire.index(b"\x01", wire.index(b"\x019=") + 1) + 1
        trailer_start = wire.rindex(b"10=")
        assert int(pairs[1][1]) == trailer_start - body_start, "BodyLength wrong"
        assert int(pairs[-1][1]) == sum(wire[:trailer_start]) % 256, "CheckSum wrong"
        msg_type = pairs[2][1]
        assert msg_type in self.messages, f"unknown MsgType {msg_type}"
        body = self.messages[msg_type]
        i = 0
        seen: set[int] = set()
        rest: list[tuple[int, str]] = []
        for tag, value in pairs:
            if tag in self.header.fields or tag in self.trailer.fields:
                assert tag not in seen, f"tag {tag} appears twice"
                seen.add(tag)
                self._value(tag, value)
            else:
                rest.append((tag, value))
        for part, where in ((self.header, "header"), (self.trailer, "trailer")):
            for tag, required in part.fields.items():
                assert not required or tag in seen, f"{where} tag {tag} missing"
        i = self._walk(body, rest, 0, msg_type, top=True)
        assert i == len(rest), f"tag {rest[i][0]} not defined for MsgType {msg_type}"

    def _walk(self, part: Part, pairs: list[tuple[int, str]], i: int, where: str,
              top: bool = False, delimiter: int | None = None) -> int:
        seen: set[int] = set()
        while i < len(pairs):
            tag, value = pairs[i]
            if tag in part.groups:
                assert tag not in seen, f"group {tag} appears twice in {where}"
                seen.add(tag)
                self._value(tag, value)
                _, entry, first = part.groups[tag]
                count = int(value)
                i += 1
                for n in range(count):
                    assert i < len(pairs) and pairs[i][0] == first, (
                        f"group {tag} entry {n + 1} does not start with tag {first}")
                    i = self._walk(entry, pairs, i, f"group {tag}", delimiter=first)
                continue
            if tag not in part.fields:
                break
            if tag in seen:
                if delimiter is not None and tag == delimiter:
                    break  # the next entry
                raise AssertionError(f"tag {tag} appears twice in {where}")
            seen.add(tag)
            self._value(tag, value)
            i += 1
        for tag, required in part.fields.items():
            assert not required or tag in seen, f"required tag {tag} missing in {where}"
        for tag, (required, _, _) in part.groups.items():
            assert not required or tag in seen, f"required group {tag} missing in {where}"
        return i

    def _value(self, tag: int, value: str) -> None:
        assert value, f"tag {tag} without a value"
        kind = self.types.get(tag, "STRING")
        enum = self.enums.get(tag)
        if enum is not None:
            words = value.split(" ") if kind in ("MULTIPLEVALUESTRING",) else [value]
            for word in words:
                assert word in enum, f"tag {tag}: {word!r} is not one of its values"
        if kind in ("INT", "SEQNUM", "LENGTH", "NUMINGROUP"):
            assert _INT.fullmatch(value), f"tag {tag}: {value!r} is not an integer"
        elif kind in ("FLOAT", "QTY", "PRICE", "AMT", "PRICEOFFSET", "PERCENTAGE"):
            assert _NUMBER.fullmatch(value), f"tag {tag}: {value!r} is not a number"
        elif kind == "CHAR":
            assert len(value) == 1, f"tag {tag}: {value!r} is not one character"
        elif kind == "BOOLEAN":
            assert value in ("Y", "N"), f"tag {tag}: {value!r} is not Y or N"
        elif kind == "UTCTIMESTAMP":
            assert _TIMESTAMP.fullmatch(value), f"tag {tag}: {value!r} is not a UTCTimestamp"
            datetime.strptime(value[:17], "%Y%m%d-%H:%M:%S")


DICTIONARY = Dictionary()
