"""Times psrpcore's CLIXML serializer on the object graph of benches/clixml.rs.

Run: .venv/bin/python psrp/benches/psrpcore_clixml.py
Prints microseconds per operation for a 10-property PSCustomObject and a list of 10 000 of them
(serialize = object -> CLIXML text, deserialize = CLIXML text -> object).
"""

import datetime
import time
import uuid
import xml.etree.ElementTree as ET

from psrpcore.types import PSCustomObject, PSInt64, deserialize, serialize


def make_object(i: int) -> PSCustomObject:
    return PSCustomObject(
        Name=f"process-{i}",
        Id=i,
        Handles=100 + i % 50,
        CPU=1.5 * i,
        WorkingSet=PSInt64(1024 * 1024 * (i % 300)),
        Path=f"C:\\Windows\\System32\\process-{i}.exe",
        StartTime=datetime.datetime(2024, 1, 1, 12, 0, i % 60, tzinfo=datetime.timezone.utc),
        Responding=i % 2 == 0,
        Company="Contoso\r\nLtd",
        Guid=uuid.UUID(int=i),
    )


def ser(value) -> str:
    return ET.tostring(serialize(value, None), encoding="unicode")


def de(text: str):
    return deserialize(ET.fromstring(text), None)


def best_of(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    one = make_object(1)
    one_text = ser(one)
    many = [make_object(i) for i in range(10_000)]
    many_text = ser(many)
    n = 2000
    results = {
        "object_10_props/serialize": best_of(lambda: [ser(one) for _ in range(n)], 3) / n,
        "object_10_props/deserialize": best_of(lambda: [de(one_text) for _ in range(n)], 3) / n,
        "list_10000/serialize": best_of(lambda: ser(many), 3),
        "list_10000/deserialize": best_of(lambda: de(many_text), 3),
    }
    for name, secs in results.items():
        print(f"psrpcore {name}: {secs * 1e6:.1f} us")
    print(f"list_10000 text: {len(many_text)} chars")


if __name__ == "__main__":
    main()
