"""Properties that any correct causal self-attention must have."""

import pytest
import torch
from torch.nn import functional as F

from scratchllm import CausalSelfAttention, GPTConfig
from scratchllm.attention import merge_heads, split_heads
from scratchllm.model import FastCausalSelfAttention

FORMS = {"teaching": CausalSelfAttention, "fast": FastCausalSelfAttention}


def make_attention(dropout=0.0, **overrides):
    torch.manual_seed(0)
    fields = dict(block_size=16, n_head=4, n_embd=32, dropout=dropout, attention="teaching")
    fields.update(overrides)
    config = GPTConfig(**fields)
    Attention = FORMS[config.attention]
    return Attention(config).eval()


@pytest.fixture
def attn(device):
    return make_attention().to(device)


@pytest.fixture
def x(device):
    torch.manual_seed(1)
    return torch.randn(2, 10, 32).to(device)


def test_shapes(attn, x):
    y = attn(x)
    y2, att = attn(x, return_attention=True)
    assert y.shape == x.shape
    assert att.shape == (2, 4, 10, 10)
    assert torch.equal(y, y2)


def test_rows_sum_to_one(attn, x):
    _, att = attn(x, return_attention=True)
    torch.testing.assert_close(att.sum(dim=-1), torch.ones(2, 4, 10, device=x.device))


def test_upper_triangle_is_exactly_zero(attn, x):
    _, att = attn(x, return_attention=True)
    future = torch.triu(torch.ones(10, 10, dtype=torch.bool, device=x.device), diagonal=1)
    assert (att[..., future] == 0).all()
    assert (att[..., ~future] > 0).all()


def test_future_tokens_do_not_change_earlier_outputs(attn, x):
    changed = x.clone()
    changed[:, 6:] = torch.randn_like(changed[:, 6:])
    y, y_changed = attn(x), attn(changed)
    torch.testing.assert_close(y[:, :6], y_changed[:, :6], rtol=0, atol=0)
    assert not torch.allclose(y[:, 6:], y_changed[:, 6:])


def test_matches_scaled_dot_product_attention(attn, x):
    B, T, C = x.shape
    head_dim = C // attn.n_head
    q, k, v = attn.c_attn(x).split(C, dim=2)
    q, k, v = (t.view(B, T, attn.n_head, head_dim).transpose(1, 2) for t in (q, k, v))
    fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    fused = attn.c_proj(fused.transpose(1, 2).reshape(B, T, C))
    assert (attn(x) - fused).abs().max().item() < 1e-6


def test_dropout_only_in_train_mode(x):
    attn = make_attention(dropout=0.5).to(x.device)
    torch.testing.assert_close(attn(x), attn(x), rtol=0, atol=0)

    attn.train()
    _, att = attn(x, return_attention=True)
    assert not torch.allclose(att.sum(dim=-1), torch.ones(2, 4, 10, device=x.device))
    assert not torch.equal(attn(x), attn(x))
    # Residual dropout zeroes about half of the output features.
    assert 0.3 < (attn(x) == 0).float().mean().item() < 0.7


def test_mask_is_a_non_persistent_buffer(attn):
    assert "mask" in dict(attn.named_buffers())
    assert "mask" not in attn.state_dict()
    assert all(p is not attn.mask for p in attn.parameters())


@pytest.mark.parametrize("attention", ["teaching", "fast"])
def test_head_count_must_divide_width(attention):
    # A ValueError, not an assert, which python -O would remove.
    with pytest.raises(ValueError, match="n_embd 32 is not a multiple of n_head 5"):
        make_attention(n_head=5, attention=attention)


def test_split_and_merge_heads_are_a_reshape():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    # Head h of token t holds channels 4h .. 4h+3 of that token.
    assert torch.equal(heads[1, 2, 3], x[1, 3, 8:12])
    assert torch.equal(merge_heads(heads), x)
