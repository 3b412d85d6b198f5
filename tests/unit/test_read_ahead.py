"""Reading one page ahead: same pages in order, errors where they happened, and a loop left
early leaves no thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from clever_client.read_ahead import read_ahead


def test_pages_come_prepared_and_in_order() -> None:
    assert list(read_ahead(iter(range(5)), lambda n: n * 10)) == [0, 10, 20, 30, 40]


def test_the_next_page_is_fetched_while_the_caller_works_on_this_one() -> None:
    fetched: list[int] = []
    second_fetched = threading.Event()

    def pages() -> Iterator[int]:
        for n in range(3):
            fetched.append(n)
            if n == 1:
                second_fetched.set()
            yield n

    reader = read_ahead(pages(), lambda n: n)
    assert next(reader) == 0
    assert second_fetched.wait(5), "page 1 is fetched before the caller asks for it"
    assert list(reader) == [1, 2]


def test_an_error_arrives_after_the_pages_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        raise ConnectionError("Clever went away")

    reader = read_ahead(pages(), lambda n: n)
    assert next(reader) == 1
    with pytest.raises(ConnectionError, match="went away"):
        next(reader)


def test_leaving_the_loop_early_stops_the_reader() -> None:
    def endless() -> Iterator[int]:
        n = 0
        while True:
            yield n
            n += 1

    before = {t.ident for t in threading.enumerate()}
    for n in read_ahead(endless(), lambda n: n):
        if n == 3:
            break
    assert not [t for t in threading.enumerate() if t.name == "read-ahead" and t.ident not in before]
