"""Token files on disk and the (x, y) batches cut from them."""

import json
import os
import pickle
import stat

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from scratchllm import dataset
from scratchllm.dataset import (
    TokenDataset,
    open_tokens,
    random_batches,
    sequential_batches,
    write_tokens,
)
from scratchllm.io import atomic_write


@pytest.fixture
def tokens(tmp_path):
    """Tokens 0..99 on disk: each id is its own position, easy to check."""
    path = tmp_path / "train.bin"
    write_tokens(path, range(100), vocab_size=50257)
    return open_tokens(path)


@pytest.mark.parametrize(
    "vocab_size, top_id, dtype",
    [
        (50257, 50256, np.uint16),  # GPT-2
        (65536, 65535, np.uint16),  # the largest vocabulary uint16 holds
        (65537, 65536, np.uint32),
        (100277, 100276, np.uint32),  # cl100k
    ],
)
def test_round_trip_and_dtype(tmp_path, vocab_size, top_id, dtype):
    path = tmp_path / "tokens.bin"
    ids = [0, 1, top_id, 7, top_id - 1]
    assert write_tokens(path, ids, vocab_size) == 5
    assert path.stat().st_size == 5 * np.dtype(dtype).itemsize
    meta = json.loads((tmp_path / "tokens.bin.json").read_text())
    assert meta == {"dtype": np.dtype(dtype).name, "count": 5, "vocab_size": vocab_size}
    arr = open_tokens(path)
    assert isinstance(arr, np.memmap) and arr.dtype == dtype
    assert arr.tolist() == ids


def test_write_streams_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset, "CHUNK", 7)  # force many chunks
    # Single ids and whole documents may be mixed; order is kept.
    stream = (x for x in [0, 1, [2, 3, 4], np.arange(5, 20), 20, torch.tensor([21, 22]), 23])
    path = tmp_path / "t.bin"
    assert write_tokens(path, stream, vocab_size=1000) == 24
    assert open_tokens(path).tolist() == list(range(24))


def test_open_is_read_only(tokens):
    with pytest.raises(ValueError):
        tokens[0] = 5


def test_empty_and_mismatched_files(tmp_path):
    path = tmp_path / "empty.bin"
    assert write_tokens(path, [], vocab_size=10) == 0
    assert len(open_tokens(path)) == 0
    write_tokens(path, range(10), vocab_size=10)
    path.write_bytes(b"\0" * 6)  # truncated behind the sidecar's back
    with pytest.raises(ValueError, match="sidecar"):
        open_tokens(path)


def test_out_of_vocabulary_id_is_an_error(tmp_path):
    path = tmp_path / "t.bin"
    with pytest.raises(ValueError, match="70000"):
        write_tokens(path, [1, 2, 70000], vocab_size=50257)  # would wrap to 4464
    with pytest.raises(ValueError, match="-1"):
        write_tokens(path, [1, -1], vocab_size=50257)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset, "CHUNK", 4)
    path = tmp_path / "t.bin"
    write_tokens(path, range(10), vocab_size=100)

    def broken():
        yield from range(50, 60)  # two chunks reach the temporary file ...
        raise RuntimeError("tokenizer crashed")

    with pytest.raises(RuntimeError):
        write_tokens(path, broken(), vocab_size=100)
    # ... but the old file and sidecar are untouched and no temporary is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.bin", "t.bin.json"]
    assert open_tokens(path).tolist() == list(range(10))


def test_windows_are_shifted_by_one(tokens):
    ds = TokenDataset(tokens, block_size=8, stride=8)
    x, y = ds[3]
    assert x.dtype == y.dtype == torch.int64
    assert x.shape == y.shape == (8,)
    assert x.tolist() == list(range(24, 32))
    assert y.tolist() == list(range(25, 33))


@pytest.mark.parametrize(
    "block_size, stride, expected",
    [
        (8, 8, 12),  # starts 0, 8, ..., 88; a window needs 9 tokens: 88..96
        (8, 1, 92),  # every start 0..91
        (8, 4, 23),  # starts 0, 4, ..., 88
        (9, 9, 11),  # 11 * 9 = 99 targets: exactly tokens 1..99
        (10, 10, 9),  # 100 tokens hold only 99 targets
        (99, 1, 1),
        (100, 1, 0),  # no room for the last target
    ],
)
def test_window_count(tokens, block_size, stride, expected):
    ds = TokenDataset(tokens, block_size, stride=stride)
    assert len(ds) == expected
    if expected:
        x, y = ds[-1]
        assert y[-1].item() <= 99
        assert x[0].item() == (expected - 1) * stride
    with pytest.raises(IndexError):
        ds[expected]


def test_stride_defaults_to_block_size(tokens):
    assert TokenDataset(tokens, 8).stride == 8


def test_dataset_from_path_pickles_as_a_path(tmp_path):
    path = tmp_path / "big.bin"
    write_tokens(path, range(5000), vocab_size=50257)
    ds = TokenDataset(path, block_size=16)
    assert isinstance(ds.tokens, np.memmap)
    data = pickle.dumps(ds)
    assert len(data) < 1000  # not the 10 KB of tokens
    again = pickle.loads(data)
    assert torch.equal(again[7][0], ds[7][0])


def test_dataset_works_with_a_dataloader(tokens):
    loader = DataLoader(TokenDataset(tokens, 8), batch_size=5, shuffle=False)
    x, y = next(iter(loader))
    assert x.shape == y.shape == (5, 8)
    torch.testing.assert_close(y[:, :-1], x[:, 1:])


def test_random_batches_shapes_and_shift(tokens, device):
    g = torch.Generator().manual_seed(0)
    batches = list(random_batches(tokens, 8, 4, generator=g, num_batches=3, device=device))
    assert len(batches) == 3
    for x, y in batches:
        assert x.shape == y.shape == (4, 8)
        assert x.dtype == y.dtype == torch.int64
        assert x.device.type == device.type
        # Token i is the integer i, so each row is consecutive and y = x + 1.
        assert torch.equal(y, x + 1)
        assert torch.equal(x[:, 1:], x[:, :-1] + 1)
        assert x.min() >= 0 and y.max() <= 99


def test_random_batches_are_seeded(tokens):
    def take(seed, n=5):
        g = torch.Generator().manual_seed(seed)
        return [x for x, _ in random_batches(tokens, 8, 4, generator=g, num_batches=n)]

    first, again, other = take(1), take(1), take(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_random_batches_reach_every_start(tokens):
    g = torch.Generator().manual_seed(0)
    x, _ = next(random_batches(tokens, 98, 400, generator=g))
    assert set(x[:, 0].tolist()) == {0, 1}  # the only starts with room for y
    with pytest.raises(ValueError, match="too few"):
        next(random_batches(tokens, 100, 1))


@pytest.mark.parametrize("block_size, batch_size", [(8, 5), (9, 4), (7, 100), (1, 64)])
def test_sequential_batches_cover_the_tokens_once(tokens, device, block_size, batch_size):
    batches = list(sequential_batches(tokens, block_size, batch_size, device=device))
    assert all(x.shape == y.shape and x.device.type == device.type for x, y in batches)
    assert all(x.shape[0] <= batch_size and x.shape[1] <= block_size for x, _ in batches)
    xs = torch.cat([x.flatten() for x, _ in batches]).cpu()
    ys = torch.cat([y.flatten() for _, y in batches]).cpu()
    # Every token is an input once and every token but the first a target once.
    assert xs.tolist() == list(range(99))
    assert ys.tolist() == list(range(1, 100))


# --- the atomic writer -------------------------------------------------------


def test_atomic_write_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "state.bin"
    path.write_bytes(b"old")

    def crash(f):
        f.write(b"half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, crash)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.bin"]  # no temporary left
    assert atomic_write(path, lambda f: f.write(b"new")) == 3  # write's result
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["state.bin"]


def test_atomic_write_is_absent_after_a_failed_first_write(tmp_path):
    with pytest.raises(ValueError):
        atomic_write(tmp_path / "new.bin", lambda f: int("not a number"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_mode_is_that_of_open(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "a.bin", lambda f: f.write(b"x"))
        with open(tmp_path / "b.bin", "wb") as f:  # what open() gives, for reference
            f.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == mode
