"""The command's threads: work runs on them, waiting never deadlocks, closing ends every one."""

import threading
import time

import pytest

from voiceguide.background import Background, Cancelled


def ours() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("voiceguide-")}


def test_work_runs_on_its_threads_and_close_ends_them():
    before = ours()
    with Background(2) as bg:
        assert ours() == before  # started when first needed, not before
        names = [bg.submit(lambda: threading.current_thread().name) for _ in range(4)]
        deadline = time.monotonic() + 5
        while not all(t.done() for t in names) and time.monotonic() < deadline:
            time.sleep(0.01)  # (asking for a result now would run a task still queued here)
        got = {t.result() for t in names}
        assert got <= {"voiceguide-worker-1", "voiceguide-worker-2"}
    assert ours() == before


def test_an_error_is_raised_where_the_result_is_asked_for():
    with Background(1) as bg:
        task = bg.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            task.result()


def test_without_threads_work_runs_in_the_calling_thread_at_once():
    bg = Background(0)
    seen = []
    task = bg.submit(lambda: seen.append(threading.current_thread()) or 7)
    assert seen == [threading.current_thread()] and task.done() and task.result() == 7
    assert not bg.threaded


def test_waiting_for_work_nobody_has_started_runs_it_here():
    release = threading.Event()
    with Background(1) as bg:
        busy = bg.submit(release.wait)
        queued = bg.submit(lambda: threading.current_thread())
        assert queued.result() is threading.current_thread()  # not behind the busy thread
        assert not busy.done()
        release.set()


def test_closing_drops_queued_work_and_waits_for_running_work():
    release = threading.Event()
    bg = Background(1)
    running = bg.submit(lambda: release.wait() and "finished")
    queued = bg.submit(lambda: "never")
    time.sleep(0.05)
    closer = threading.Thread(target=bg.close)
    closer.start()
    time.sleep(0.05)
    assert closer.is_alive()  # the running task is waited for
    release.set()
    closer.join(5)
    assert not closer.is_alive() and bg.closed
    assert running.result() == "finished"
    with pytest.raises(Cancelled):
        queued.result()


def test_a_closed_background_still_runs_work_in_the_calling_thread():
    before = ours()
    bg = Background(2)
    bg.close()
    assert bg.submit(lambda: threading.current_thread()).result() is threading.current_thread()
    assert dict(bg.batch(lambda x: x * x, [1, 2, 3], limit=2)) == {1: 1, 2: 4, 3: 9}
    assert ours() == before


def test_a_named_task_has_its_own_thread_and_is_stopped_by_close():
    bg = Background(1)
    task = bg.start("probe", lambda: (threading.current_thread().name, bg.stopping.wait(10)))
    time.sleep(0.05)
    assert "voiceguide-probe" in ours()
    t = time.monotonic()
    bg.close()
    assert time.monotonic() - t < 5
    assert task.result() == ("voiceguide-probe", True)
    assert "voiceguide-probe" not in ours()


# -- batches ---------------------------------------------------------------------------------------


def test_a_batch_gives_every_result_and_runs_at_most_limit_at_once():
    lock = threading.Lock()
    now, most = [0], [0]

    def square(x):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.01)
        with lock:
            now[0] -= 1
        return x * x

    with Background(4) as bg, bg.batch(square, range(12), limit=2) as batch:
        assert dict(batch) == {x: x * x for x in range(12)}
    assert most[0] == 2


def test_a_failed_item_stops_the_batch_and_is_raised_where_it_is_read():
    started = []

    def fn(x):
        started.append(x)
        if x == 2:
            raise ValueError("two")
        return x

    with Background(1) as bg:
        batch = bg.batch(fn, range(10), limit=1)
        with pytest.raises(ValueError, match="two"):
            list(batch)
        batch.wait()
    assert started == [0, 1, 2]


def test_a_cancelled_batch_starts_no_more_items():
    release = threading.Event()
    started = []

    def fn(x):
        started.append(x)
        release.wait()
        return x

    with Background(1) as bg:
        batch = bg.batch(fn, range(10), limit=1)
        time.sleep(0.05)
        batch.cancel()
        release.set()
        batch.wait()
    assert started == [0]


def test_a_batch_read_on_one_of_its_own_threads_does_not_deadlock():
    with Background(1) as bg:
        outer = bg.submit(lambda: sorted(dict(bg.batch(lambda x: -x, range(5), limit=1)).values()))
        assert outer.result() == [-4, -3, -2, -1, 0]


def test_a_batch_running_when_its_background_closes_says_it_was_cut_short():
    release = threading.Event()
    bg = Background(1)
    batch = bg.batch(lambda x: release.wait(), range(5), limit=1)
    time.sleep(0.05)
    closer = threading.Thread(target=bg.close)
    closer.start()
    time.sleep(0.05)
    release.set()
    closer.join(5)
    with pytest.raises(Cancelled):
        list(batch)
