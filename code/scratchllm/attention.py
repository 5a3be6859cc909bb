"""Causal self-attention, written out step by step."""

import math

import torch
import torch.nn as nn
from torch.nn import functional as F


class CausalSelfAttention(nn.Module):
    """Multi-head masked self-attention: each token mixes in earlier ones."""

    def __init__(self, config, rotary=None):
        super().__init__()
        # Heads split the embedding evenly, so their outputs concatenate back
        # to exactly n_embd channels.
        assert config.n_embd % config.n_head == 0
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        C, bias = config.n_embd, config.bias
        # One matmul produces query, key and value for all heads at once.
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
        mask = torch.tril(torch.ones(config.block_size, config.block_size))
        self.register_buffer(
            "mask",
            mask.view(1, 1, config.block_size, config.block_size),
            persistent=False,
        )

    def forward(self, x, return_attention=False):
        B, T, C = x.size()  # batch, sequence length, embedding size
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim): heads become a batch dimension.
        head_dim = C // self.n_head
        q = q.view(B, T, self.n_head, head_dim).transpose(1, 2)
        k = k.view(B, T, self.n_head, head_dim).transpose(1, 2)
        v = v.view(B, T, self.n_head, head_dim).transpose(1, 2)
        if self.rotary is not None:
            q, k = self.rotary(q), self.rotary(k)

        # A dot product of two head_dim-long random vectors has variance
        # head_dim; dividing by its square root keeps the softmax from
        # saturating into a one-hot, whose gradients vanish.
        att = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
        # -inf becomes exactly 0 after exp, so no weight reaches the future.
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_dropout(att)
        y = att @ v  # (B, n_head, T, head_dim): weighted average of values

        # Put the heads side by side again and let c_proj mix them.
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        y = self.resid_dropout(self.c_proj(y))
        return (y, att) if return_attention else y
