"""The overlapped stages: reading ahead and writing behind compute, bounded, and forgiving."""

from __future__ import annotations

import threading
import time

import pytest

from upscale.batch.prefetch import run_overlapped


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, int]] = []
        self.failures: dict[int, str] = {}
        self.written: list[int] = []

    def note(self, what: str, item: int) -> None:
        with self.lock:
            self.events.append((what, item))

    def failed(self, item: int, stage: str, error: BaseException) -> None:
        self.failures[item] = f"{stage}: {error}"


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_every_item_is_written_once_in_order_and_failures_stay_with_their_item(depth):
    log = Recorder()

    def read(item):
        if item == 2:
            raise ValueError("unreadable")
        return item * 10

    def compute(item, data):
        if item == 5:
            raise RuntimeError("out of memory")
        return data + 1

    def write(item, result):
        if item == 7:
            raise OSError("disk full")
        log.written.append(result)

    run_overlapped(range(10), read=read, compute=compute, write=write, on_failure=log.failed,
                   depth=depth)
    assert log.written == [1, 11, 31, 41, 61, 81, 91]
    assert log.failures == {2: "read: unreadable", 5: "compute: out of memory",
                            7: "write: disk full"}


def test_the_next_file_is_read_while_the_current_one_computes():
    """Compute of item 0 waits until item 1 has been read: only overlap lets that finish."""
    read_one = threading.Event()

    def read(item):
        if item == 1:
            read_one.set()
        return item

    def compute(item, data):
        if item == 0:
            assert read_one.wait(timeout=10), "item 1 was not read during item 0's compute"
        return data

    failures: list = []
    run_overlapped(range(3), read=read, compute=compute, write=lambda item, result: None,
                   on_failure=lambda *a: failures.append(a), depth=2)
    assert failures == []


def test_reading_ahead_is_bounded_by_the_queue_depth():
    """With writes stalled, the reader can get at most a bounded number of items ahead."""
    log = Recorder()
    depth = 2
    bound = 2 * depth + 3  # 1 being written, depth queued, 1 computed, depth decoded, 1 decoding

    def read(item):
        log.note("read", item)
        return item

    def write(item, result):
        if item == 0:  # a stalled disk: hold the first write while the reader runs on
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline and reads() <= bound:
                time.sleep(0.01)
        log.note("write", item)

    def reads():
        with log.lock:
            return sum(1 for what, _ in log.events if what == "read")

    def compute(item, data):
        log.note("compute", item)
        return data

    run_overlapped(range(50), read=read, compute=compute, write=write,
                   on_failure=lambda *a: None, depth=depth)
    first_write = log.events.index(("write", 0))
    read_before = sum(1 for what, _ in log.events[:first_write] if what == "read")
    assert read_before <= bound
    assert [item for what, item in log.events if what == "write"] == list(range(50))


def test_an_interrupt_stops_the_stages_and_reaches_the_caller():
    written: list[int] = []

    def compute(item, data):
        if item == 3:
            raise KeyboardInterrupt
        return data

    with pytest.raises(KeyboardInterrupt):
        run_overlapped(range(100), read=lambda item: item, compute=compute,
                       write=lambda item, result: written.append(item),
                       on_failure=lambda *a: None, depth=2)
    assert written == [0, 1, 2][: len(written)]  # nothing after the interrupted item
    assert not [t for t in threading.enumerate() if t.name.startswith("batch-")]
