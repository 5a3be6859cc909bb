"""Causal self-attention, written out step by step."""

import math

import torch
import torch.nn as nn
from torch.nn import functional as F


def check_heads(config):
    # Heads split the embedding evenly, so that their outputs concatenate
    # back to exactly n_embd channels.
    if config.n_embd % config.n_head:
        raise ValueError(
            f"n_embd {config.n_embd} is not a multiple of n_head "
            f"{config.n_head}"
        )


def split_heads(x, n_head):
    """(B, T, C) -> (B, n_head, T, C // n_head): each head gets its own slice
    of the channels, and the heads become one more batch dimension."""
    B, T, C = x.size()
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(y):
    """(B, n_head, T, head_dim) -> (B, T, n_head * head_dim), undoing
    split_heads: the heads' outputs side by side again."""
    B, n_head, T, head_dim = y.size()
    return y.transpose(1, 2).contiguous().view(B, T, n_head * head_dim)


class CausalSelfAttention(nn.Module):
    """Multi-head masked self-attention: each token mixes in earlier ones."""

    def __init__(self, config, rotary=None):
        super().__init__()
        check_heads(config)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        C, bias = config.n_embd, config.bias
        self.c_attn = nn.Linear(C, 3 * C, bias=bias)
        self.c_proj = nn.Linear(C, C, bias=bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # Optional RoPE (embeddings.RotaryEmbedding), for Llama-style models:
        # it rotates queries and keys by position before they meet.
        self.rotary = rotary
        # The mask is a buffer, not a parameter: it moves with .to(device) but
        # is never trained, and it is rebuilt from the config rather than saved.
        # Shape (1, 1, block, block) broadcasts over batch and heads.
        block = config.block_size
        mask = torch.tril(torch.ones(block, block)).view(1, 1, block, block)
        self.register_buffer("mask", mask, persistent=False)

    def heads(self, x, positions=None):
        """Queries, keys and values of x (B, T, C), each (B, n_head, T,
        head_dim), with RoPE applied at `positions` (default 0 .. T-1)."""
        # One matmul produces query, key and value for all heads at once.
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim): heads become a batch dimension.
        q, k, v = (split_heads(t, self.n_head) for t in (q, k, v))
        if self.rotary is not None:
            # Each token turns by its own position, so a cached key keeps
            # the rotation it was given when it was new.
            q, k = self.rotary(q, positions), self.rotary(k, positions)
        return q, k, v

    def forward(self, x, positions=None, cache=None, return_attention=False):
        """x (B, T, C) -> (B, T, C).  With a cache (generation, see
        sampling.KVCache), x holds the tokens after the cached ones, at
        `positions`, and their keys and values join the cache."""
        q, k, v = self.heads(x, positions)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, n_head, S, head_dim), S >= T
        T, S, head_dim = q.size(2), k.size(2), q.size(3)

        # A dot product of two head_dim-long random vectors has variance
        # head_dim; dividing by its square root keeps the softmax from
        # saturating into a one-hot, whose gradients vanish.
        att = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
        # -inf becomes exactly 0 after exp, so no weight reaches the future.
        # Query i sits at position S - T + i: row S - T + i of the mask.
        mask = self.mask[:, :, S - T : S, :S]
        att = att.masked_fill(mask == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_dropout(att)
        y = att @ v  # (B, n_head, T, head_dim): weighted average of values

        # Put the heads side by side again and let c_proj mix them.
        y = self.resid_dropout(self.c_proj(merge_heads(y)))
        return (y, att) if return_attention else y
