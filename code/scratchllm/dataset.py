"""Token ids on disk, and the (x, y) batches a language model trains on.

    tokenizer -> write_tokens -> train.bin (+ train.bin.json) -> open_tokens
              -> TokenDataset / random_batches / sequential_batches -> model

The corpus is tokenized once into one flat array of ids, stored as raw
integers: 2 bytes a token while the vocabulary fits in uint16.  Training
reads it through a memory map, so only the windows actually indexed are read
from disk, however large the file.  Every example is a window and the same
window shifted by one: the model learns to predict token t+1 from tokens <= t.
"""

import json
import os
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from scratchllm.io import atomic_write

# Tokens held in memory at a time while writing (8 MiB as int64).
CHUNK = 1 << 20


def _dtype_for(vocab_size):
    # uint16 holds ids 0..65535, so a vocabulary of up to 65,536 tokens (GPT-2's
    # 50,257 included) costs half what uint32 would, on disk and in page cache.
    return np.uint16 if vocab_size <= 1 << 16 else np.uint32


def _sidecar(path):
    return Path(str(path) + ".json")


def _chunks(ids_iterable, size):
    """Group a stream of ids into int64 arrays of about `size` ids.  Items
    may be single ids or sequences of ids (a tokenized document, say)."""
    # Single ids wait in a list: cheaper than one array each.
    ints, arrays, n = [], [], 0
    for item in ids_iterable:
        if isinstance(item, (int, np.integer)):
            ints.append(item)
            n += 1
        else:
            if ints:  # keep the order: earlier single ids go first
                arrays.append(np.array(ints, dtype=np.int64))
                ints = []
            arrays.append(np.asarray(item, dtype=np.int64).reshape(-1))
            n += arrays[-1].size
        if n >= size:
            yield np.concatenate(arrays + [np.array(ints, dtype=np.int64)])
            ints, arrays, n = [], [], 0
    if n:
        yield np.concatenate(arrays + [np.array(ints, dtype=np.int64)])


def write_tokens(path, ids_iterable, vocab_size):
    """Write a stream of token ids to `path` as one flat uint16/uint32 array,
    with a sidecar `<path>.json` giving {dtype, count, vocab_size}.

    The stream is written in chunks, so it may be far larger than memory.
    Ids outside 0..vocab_size-1 raise ValueError: cast to uint16 they would
    silently wrap around to other tokens.  Returns the number of tokens.
    """
    dtype = _dtype_for(vocab_size)

    def write(f):
        count = 0
        for chunk in _chunks(ids_iterable, CHUNK):
            if chunk.size and (chunk.min() < 0 or chunk.max() >= vocab_size):
                bad = chunk[(chunk < 0) | (chunk >= vocab_size)][0]
                raise ValueError(
                    f"token id {bad} is outside the vocabulary "
                    f"0..{vocab_size - 1}"
                )
            f.write(chunk.astype(dtype).tobytes())
            count += chunk.size
        return count

    count = atomic_write(path, write)
    meta = {
        "dtype": np.dtype(dtype).name,
        "count": int(count),
        "vocab_size": int(vocab_size),
    }
    # The sidecar goes last: open_tokens checks the two agree, so a reader
    # that catches the moment between the renames gets an error, not garbage.
    text = json.dumps(meta, indent=1)
    atomic_write(_sidecar(path), lambda f: f.write(text.encode()))
    return count


def open_tokens(path):
    """The token array written by write_tokens, as a read-only np.memmap.

    Nothing is read yet: slicing reads just the pages it touches.  (An empty
    array cannot be memory-mapped; zero tokens come back as an empty array.)
    """
    meta = json.loads(_sidecar(path).read_text())
    dtype = np.dtype(meta["dtype"])
    count = meta["count"]
    size = os.path.getsize(path)
    if size != count * dtype.itemsize:
        raise ValueError(
            f"{path} has {size} bytes, but its sidecar says "
            f"{count} tokens of {dtype.name}"
        )
    if count == 0:
        return np.empty(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))


def _as_tokens(tokens):
    # Accept a path as a shorthand for open_tokens(path).
    if isinstance(tokens, (str, os.PathLike)):
        return open_tokens(tokens)
    return tokens


def _window(tokens, i, T):
    """x = tokens[i : i+T] and y = tokens[i+1 : i+T+1], as int64 tensors.

    One read of T+1 tokens gives both; int64 because that is what
    nn.Embedding and cross_entropy take as indices."""
    chunk = torch.from_numpy(np.asarray(tokens[i : i + T + 1]).astype(np.int64))
    return chunk[:-1], chunk[1:]


def _batch(tokens, starts, T):
    """The windows at `starts`, stacked into (len(starts), T) tensors x, y."""
    xs, ys = zip(*(_window(tokens, int(i), T) for i in starts), strict=True)
    return torch.stack(xs), torch.stack(ys)


def _to(x, y, device):
    if device is None:
        return x, y
    device = torch.device(device)
    if device.type == "cuda":
        # Page-locked memory lets the copy run while the GPU is busy.
        x, y = x.pin_memory(), y.pin_memory()
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    return x.to(device), y.to(device)


class TokenDataset(Dataset):
    """The windows of a token array, as a map-style torch Dataset.

    Window k starts at token k * stride.  stride=block_size gives windows that
    do not overlap (each token is a target once: evaluation); stride=1 gives
    every window there is.  Item k is (x, y), each (block_size,) int64, with
    y = x shifted one token left.  `tokens` is an array (a memmap from
    open_tokens) or the path of one.
    """

    def __init__(self, tokens, block_size, stride=None):
        self.path = tokens if isinstance(tokens, (str, os.PathLike)) else None
        self.tokens = _as_tokens(tokens)
        self.block_size = block_size
        self.stride = block_size if stride is None else stride
        assert block_size >= 1 and self.stride >= 1

    def __len__(self):
        # A window needs block_size + 1 tokens (the last one is only a target),
        # so the last start is at most len(tokens) - block_size - 1.
        last_start = len(self.tokens) - self.block_size - 1
        return last_start // self.stride + 1 if last_start >= 0 else 0

    def __getitem__(self, k):
        n = len(self)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(f"window {k} of {n}")
        return _window(self.tokens, k * self.stride, self.block_size)

    def __getstate__(self):
        # A DataLoader worker started by spawn receives the dataset pickled;
        # a pickled memmap is a full copy of the data, so send the path instead.
        state = dict(self.__dict__)
        if self.path is not None:
            state["tokens"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.tokens is None:
            self.tokens = open_tokens(self.path)


def random_batches(
    tokens,
    block_size,
    batch_size,
    generator=None,
    num_batches=None,
    device=None,
):
    """Batches of windows at random starts, as in nanoGPT's get_batch.

    Yields (x, y), each (batch_size, block_size) int64, forever or for
    num_batches batches.  Starts are drawn with `generator`, a seeded
    torch.Generator, so the same seed gives the same batches.  Sampling with
    replacement at any offset means no epochs to track, and a window does
    not always begin at the same place within a document.
    """
    tokens = _as_tokens(tokens)
    n_starts = len(tokens) - block_size  # starts 0 .. len - block_size - 1
    if n_starts < 1:
        raise ValueError(
            f"{len(tokens)} tokens are too few for a window of {block_size} + 1"
        )

    def batches():
        while True:
            ix = torch.randint(n_starts, (batch_size,), generator=generator)
            yield _to(*_batch(tokens, ix, block_size), device)

    return batches() if num_batches is None else islice(batches(), num_batches)


def sequential_batches(tokens, block_size, batch_size, device=None):
    """The token array once, in order, for evaluation.

    Yields (x, y) batches of the non-overlapping windows of TokenDataset
    (stride=block_size); the last batch may have fewer rows.  The tokens left
    over, too few for a full window, come last as a batch of one shorter row,
    so that every token but the first is a target exactly once.
    """
    tokens = _as_tokens(tokens)
    n_windows = len(TokenDataset(tokens, block_size, stride=block_size))
    starts = range(0, n_windows * block_size, block_size)
    for b in range(0, n_windows, batch_size):
        x, y = _batch(tokens, starts[b : b + batch_size], block_size)
        yield _to(x, y, device)
    covered = n_windows * block_size  # targets so far: tokens[1 : covered + 1]
    rest = len(tokens) - 1 - covered
    if rest > 0:
        x, y = _window(tokens, covered, rest)
        yield _to(x[None], y[None], device)


def length_buckets(lengths, batch_size, generator=None):
    """Row indices cut into batches of similar length, for padded batches.

    Rows are sorted by length before they are cut, so that a batch pads
    little; with a generator the batches come in a random order (and the
    rows of equal length in a random order within them), without one in
    order of length.
    """
    order = list(range(len(lengths)))
    if generator is not None:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    order.sort(key=lambda i: lengths[i])  # stable: ties keep the shuffle
    chunks = [
        order[i : i + batch_size] for i in range(0, len(order), batch_size)
    ]
    if generator is not None:
        shuffled = torch.randperm(len(chunks), generator=generator)
        chunks = [chunks[i] for i in shuffled]
    return chunks
