"""execute.execute_all's scheduling over config.schedule, with the kernel
replaced by a fake run that records when each chapter starts and ends."""

import io
import textwrap
import threading
import time

import nbformat
import pytest

from bookbuild import config, execute
from bookbuild.errors import BookError
from bookbuild.files import HashMemo
from bookbuild.layout import Layout
from bookbuild.log import Log

# d uses a's and b's artifacts; c is independent; e uses d's.
BOOK = """\
title: T
chapters:
  - file: a.md
    produces: [x]
  - file: b.md
    produces: [y]
  - c.md
  - file: d.md
    uses: [x, y]
    produces: [z]
  - file: e.md
    uses: [z]
"""


class FakeRun:
    """Stands in for execute.run: sleeps, and records overlaps and order."""

    def __init__(self, fail: str = ""):
        self.fail = fail
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.most = 0
        self.spans: dict[str, tuple[float, float]] = {}

    def __call__(self, book, chapter, nb, key, *args):
        with self.lock:
            self.running.add(chapter.id)
            self.most = max(self.most, len(self.running))
        start = time.perf_counter()
        time.sleep(0.3)  # long enough for threads to start on a busy machine
        with self.lock:
            self.running.discard(chapter.id)
            self.spans[chapter.id] = (start, time.perf_counter())
        if chapter.id == self.fail:
            raise BookError(f"{chapter.id} failed")
        executed = nbformat.v4.new_notebook()
        executed.metadata["book_cache"] = {"key": key}  # what run() records
        return executed


@pytest.fixture
def book(tmp_path, monkeypatch):
    root = tmp_path / "book"
    root.mkdir()
    (root / "book.yml").write_text(textwrap.dedent(BOOK))
    for name in "abcde":
        (root / f"{name}.md").write_text("# Title\n")
    monkeypatch.setattr(execute.sources, "read", lambda ch, cache=None: nbformat.v4.new_notebook())
    monkeypatch.setattr(execute, "static_key", lambda *args: "key")
    monkeypatch.setattr(execute, "staleness", lambda *args: ("test", None))
    return config.load(root)


def run_all(book, tmp_path, monkeypatch, selected, jobs, fake):
    monkeypatch.setattr(execute, "run", fake)
    layout = Layout(tmp_path / "build")
    layout.cache.mkdir(parents=True)
    return execute.execute_all(book, selected, layout, HashMemo(), Log(0, io.StringIO()), jobs=jobs)


def test_producers_finish_before_their_users_start(book, tmp_path, monkeypatch):
    fake = FakeRun()
    results = run_all(book, tmp_path, monkeypatch, book.chapters, 3, fake)
    assert set(results) == set("abcde")
    begin = {ch: span[0] for ch, span in fake.spans.items()}
    end = {ch: span[1] for ch, span in fake.spans.items()}
    assert end["a"] <= begin["d"] and end["b"] <= begin["d"] and end["d"] <= begin["e"]
    assert fake.most == 3  # a, b and c have no producers: all three run at once


@pytest.mark.parametrize("jobs", [1, 2])
def test_at_most_jobs_chapters_run_at_once(book, tmp_path, monkeypatch, jobs):
    fake = FakeRun()
    run_all(book, tmp_path, monkeypatch, book.chapters, jobs, fake)
    assert fake.most == jobs
    if jobs == 1:  # one at a time: in book order
        assert sorted(fake.spans, key=lambda ch: fake.spans[ch][0]) == list("abcde")


def test_only_runs_the_selected_chapter_and_its_producers(book, tmp_path, monkeypatch):
    fake = FakeRun()
    results = run_all(book, tmp_path, monkeypatch, [book.chapter("e")], 2, fake)
    assert set(results) == set(fake.spans) == set("abde")


def test_a_failure_cancels_the_rest_and_raises(book, tmp_path, monkeypatch):
    fake = FakeRun(fail="a")
    with pytest.raises(BookError, match="a failed"):
        run_all(book, tmp_path, monkeypatch, book.chapters, 1, fake)
    assert set(fake.spans) == {"a"}  # b and c were queued behind it, and cancelled
