"""From token ids to vectors: token embeddings and the ways to add position.

    ids (B, T) -> token vectors (B, T, C) -> + position -> the model's input

A token embedding is a lookup table; attention by itself is blind to order,
so position has to be put in by hand.  Three ways of doing it, in the order
they appeared: learned absolute positions (GPT-2), fixed sinusoids (the
original Transformer) and rotations of queries and keys (RoPE, Llama).
"""

import torch
import torch.nn as nn
from torch.nn import functional as F


def one_hot_embedding(ids, weight):
    """What nn.Embedding computes, written as a matrix product.

    Row i of ``one_hot(ids) @ weight`` is the row of ``weight`` picked by the
    single 1 in row i of the one-hot matrix.  nn.Embedding gives the same
    numbers by indexing, without building a (..., V) matrix of zeros, and its
    gradient is the same too: only the rows that were looked up receive any.
    """
    V = weight.size(0)
    return F.one_hot(ids, V).to(weight.dtype) @ weight


def _check_length(T, limit, what):
    # Without this check, indexing past the table fails deep inside an
    # embedding kernel (on a GPU, as an opaque device-side assert).
    if T > limit:
        raise ValueError(
            f"sequence of length {T} is longer than {what} {limit}"
        )


def _positions(positions, device):
    # Modules take either a length T, meaning positions 0..T-1, or explicit
    # positions (for instance those of the tokens appended during generation).
    if isinstance(positions, int):
        return torch.arange(positions, device=device)
    return positions


class LearnedPositionalEmbedding(nn.Embedding):
    """GPT-2's ``wpe``: one trained vector per position, 0 .. block_size-1.

    It is an nn.Embedding (so an nn.Module) whose rows are indexed by position
    instead of token id.  Subclassing keeps the parameter's name ``weight``,
    as in GPT-2's checkpoints, and lets init code that looks for nn.Embedding
    find it.  The table has no row for position block_size: a model with
    learned positions cannot run on longer sequences than it was built for.
    """

    def __init__(self, block_size, n_embd):
        super().__init__(block_size, n_embd)
        self.block_size = block_size

    def forward(self, positions):
        """positions: a length T, or a tensor of positions -> (T, C) (or
        positions.shape + (C,)); it broadcasts over the batch when added."""
        if isinstance(positions, int):
            _check_length(positions, self.block_size, "block_size")
        return super().forward(_positions(positions, self.weight.device))


def sinusoidal_positions(num_positions, dim, base=10000.0):
    """The fixed position table of Vaswani et al. (2017), of shape
    (num_positions, dim).

        PE[pos, 2i]     = sin(pos / base^(2i / dim))
        PE[pos, 2i + 1] = cos(pos / base^(2i / dim))

    Each pair of channels is a clock turning at its own speed: the first pair
    turns once every 2*pi positions, the last about once every 2*pi*base.  The
    fast pairs tell neighbours apart, the slow ones far-apart positions.
    """
    # float64 while computing: at position 10,000 a float32 angle is already
    # off by about 1e-3 radians.
    pos = torch.arange(num_positions, dtype=torch.float64)
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)
    # (num_positions, ceil(dim / 2)): one angle per position and pair
    angles = pos[:, None] / base ** (two_i / dim)
    pe = torch.zeros(num_positions, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : dim // 2])  # an odd dim ends on a sine
    return pe.float()


class SinusoidalPositionalEmbedding(nn.Module):
    """The sinusoid table as a module: nothing to train, nothing to save."""

    def __init__(self, num_positions, dim, base=10000.0):
        super().__init__()
        self.num_positions = num_positions
        # A buffer moves with .to(device); non-persistent, because it is
        # recomputed from (num_positions, dim, base) and not worth a checkpoint.
        pe = sinusoidal_positions(num_positions, dim, base)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, positions):
        """positions: a length T, or a tensor of positions -> (T, C)."""
        if isinstance(positions, int):
            _check_length(positions, self.num_positions, "num_positions")
        return self.pe[_positions(positions, self.pe.device)]


def rotate_half(x):
    """Split the last dimension in halves (x1, x2) and return (-x2, x1).

    Channel j is paired with channel j + head_dim/2 (not with j + 1, as in the
    RoPE paper): this is Llama's layout in Hugging Face transformers, whose
    checkpoints permute the query and key weights to match it.
    """
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE; Su et al., 2024), as used by Llama.

    Instead of adding a position vector to the input, RoPE rotates each query
    and key inside attention: pair j of channels at position m turns by the
    angle m * theta_j, with theta_j = base^(-2j / head_dim).  Rotations keep
    lengths, and the dot product of two rotated vectors depends only on the
    angle between the rotations, so

        <RoPE(q, m), RoPE(k, n)> = <q, R(n - m) k>

    depends on the positions only through their offset n - m: attention sees
    relative position, though each token was given its absolute one.
    """

    def __init__(self, head_dim, max_positions, base=10000.0):
        super().__init__()
        assert head_dim % 2 == 0, "channels rotate in pairs"
        self.max_positions = max_positions
        # Computed in float32, operation for operation as in Hugging Face's
        # Llama, so that a parity test can expect the very same numbers.
        pairs = torch.arange(0, head_dim, 2, dtype=torch.int64).float()
        inv_freq = 1.0 / (base ** (pairs / head_dim))
        angles = torch.outer(torch.arange(max_positions).float(), inv_freq)
        # rotate_half pairs channel j with j + head_dim/2, so both halves of
        # the table carry the same angles: (max_positions, head_dim).
        angles = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x, positions=None):
        """x: (B, n_head, T, head_dim) queries or keys -> the same, rotated.

        positions: None for 0..T-1; a (T,) tensor of positions shared by the
        batch; or a (B, T) tensor, one row per sequence.
        """
        T = x.size(-2)
        if positions is None:
            _check_length(T, self.max_positions, "max_positions")
            cos, sin = self.cos[:T], self.sin[:T]  # (T, head_dim)
        else:
            cos, sin = self.cos[positions], self.sin[positions]
            if positions.dim() == 2:  # (B, T, head_dim) -> (B, 1, T, head_dim)
                cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        # Pair (x1, x2) becomes (x1 cos - x2 sin, x2 cos + x1 sin): a 2-D
        # rotation, written without building any rotation matrix.
        return x * cos + rotate_half(x) * sin


class TokenAndPositionEmbedding(nn.Module):
    """GPT-2's input layer: token vector + position vector, then dropout."""

    def __init__(self, config):
        super().__init__()
        self.block_size = config.block_size
        # token -> vector, and position -> vector
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = LearnedPositionalEmbedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, idx):
        """idx: (B, T) token ids -> (B, T, C)."""
        B, T = idx.size()
        _check_length(T, self.block_size, "block_size")
        tok = self.wte(idx)  # (B, T, C)
        pos = self.wpe(T)  # (T, C), the same for every sequence of the batch
        return self.drop(tok + pos)
