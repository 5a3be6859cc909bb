"""Token embeddings and the three ways of adding position."""

import math

import pytest
import torch
import torch.nn as nn
from torch.nn import functional as F

from scratchllm.config import GPTConfig
from scratchllm.embeddings import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEmbedding,
    TokenAndPositionEmbedding,
    one_hot_embedding,
    rotate_half,
    sinusoidal_positions,
)


def test_one_hot_product_equals_nn_embedding(device):
    torch.manual_seed(0)
    emb = nn.Embedding(50, 16).to(device)
    ids = torch.randint(50, (3, 7), device=device)
    torch.testing.assert_close(one_hot_embedding(ids, emb.weight), emb(ids))


def test_one_hot_product_has_the_same_gradient(device):
    torch.manual_seed(0)
    emb = nn.Embedding(20, 8).to(device)
    ids = torch.tensor([[1, 3, 3, 7]], device=device)
    emb(ids).pow(2).sum().backward()
    lookup_grad = emb.weight.grad.clone()
    emb.weight.grad = None
    one_hot_embedding(ids, emb.weight).pow(2).sum().backward()
    torch.testing.assert_close(emb.weight.grad, lookup_grad)
    untouched = torch.ones(20, dtype=torch.bool)
    untouched[[1, 3, 7]] = False
    assert (emb.weight.grad[untouched.to(device)] == 0).all()


def test_learned_positions(device):
    torch.manual_seed(0)
    wpe = LearnedPositionalEmbedding(block_size=16, n_embd=8).to(device)
    assert isinstance(wpe, nn.Module)
    assert [name for name, _ in wpe.named_parameters()] == ["weight"]
    assert wpe(5).shape == (5, 8)
    torch.testing.assert_close(wpe(5), wpe.weight[:5])
    positions = torch.tensor([3, 9], device=device)
    torch.testing.assert_close(wpe(positions), wpe.weight[[3, 9]])
    with pytest.raises(ValueError, match="block_size"):
        wpe(17)


def test_sinusoid_at_position_zero_is_sin0_cos0():
    pe = sinusoidal_positions(8, 10)
    assert pe.shape == (8, 10)
    assert pe.dtype == torch.float32
    assert torch.equal(pe[0], torch.tensor([0.0, 1.0] * 5))


def test_sinusoid_matches_the_formula():
    d, base = 16, 10000.0
    pe = sinusoidal_positions(100, d, base)
    for pos, i in [(1, 0), (7, 3), (42, 5), (99, 7)]:
        angle = pos / base ** (2 * i / d)
        assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    # The first pair turns at one radian per position.
    assert pe[1, 0].item() == pytest.approx(math.sin(1.0), abs=1e-7)


def test_sinusoid_odd_dim_ends_on_a_sine():
    pe = sinusoidal_positions(5, 7)
    assert pe.shape == (5, 7)
    angle = 3 / 10000.0 ** (6 / 7)
    assert pe[3, 6].item() == pytest.approx(math.sin(angle), abs=1e-7)


def test_sinusoid_nearby_positions_are_more_alike():
    pe = sinusoidal_positions(256, 64)
    # Every row has the same norm (sin^2 + cos^2 = 1 per pair) ...
    torch.testing.assert_close(pe.norm(dim=1), torch.full((256,), math.sqrt(32)))
    # ... and, over small offsets, the dot product falls as the offset grows, the
    # same for every starting position.
    for m in (0, 50, 100):
        dots = [pe[m] @ pe[m + k] for k in range(5)]
        assert all(a > b for a, b in zip(dots, dots[1:], strict=False))
        torch.testing.assert_close(
            torch.stack(dots), torch.stack([pe[0] @ pe[k] for k in range(5)]), atol=1e-4, rtol=0
        )
    cos = F.cosine_similarity(pe[100:101], pe, dim=1)
    assert cos[99] > cos[90] > cos[60]


def test_sinusoidal_module_is_a_fixed_buffer(device):
    spe = SinusoidalPositionalEmbedding(32, 12).to(device)
    assert list(spe.parameters()) == []
    assert spe.state_dict() == {}  # recomputed, never saved
    assert spe.pe.device.type == device.type
    torch.testing.assert_close(spe(10), sinusoidal_positions(32, 12)[:10].to(device))
    with pytest.raises(ValueError, match="num_positions"):
        spe(33)


def rope_inputs(device, T=12, D=16):
    torch.manual_seed(0)
    rope = RotaryEmbedding(head_dim=D, max_positions=64).to(device)
    x = torch.randn(2, 3, T, D, device=device)
    return rope, x


def test_rope_shapes_and_buffers(device):
    rope, x = rope_inputs(device)
    assert rope(x).shape == x.shape
    assert rope.cos.shape == rope.sin.shape == (64, 16)
    assert list(rope.parameters()) == [] and rope.state_dict() == {}
    assert rope(x.half()).dtype == torch.float16


def test_rope_preserves_norms(device):
    rope, x = rope_inputs(device)
    torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))


def test_rope_is_the_identity_at_position_zero(device):
    rope, x = rope_inputs(device)
    y = rope(x)
    assert torch.equal(y[:, :, 0], x[:, :, 0])
    assert not torch.allclose(y[:, :, 1:], x[:, :, 1:])


def test_rope_rotates_channel_j_with_j_plus_half(device):
    # Llama / Hugging Face layout: pair (x_j, x_{j+D/2}) turns by m * theta_j.
    rope, _ = rope_inputs(device)
    D, m, j = 16, 5, 2
    x = torch.zeros(1, 1, m + 1, D, device=device)
    x[..., j] = 1.0
    y = rope(x)[0, 0, m]
    theta = 10000.0 ** (-2 * j / D)
    assert y[j].item() == pytest.approx(math.cos(m * theta), abs=1e-6)
    assert y[j + D // 2].item() == pytest.approx(math.sin(m * theta), abs=1e-6)
    assert y.count_nonzero().item() == 2
    assert torch.equal(rotate_half(torch.arange(4.0)), torch.tensor([-2.0, -3.0, 0.0, 1.0]))


def test_rope_scores_depend_only_on_the_offset(device):
    torch.manual_seed(0)
    D = 32
    rope = RotaryEmbedding(D, max_positions=128).to(device)
    q = torch.randn(1, 1, 1, D, device=device)
    k = torch.randn(1, 1, 1, D, device=device)

    def score(m, n):
        qm = rope(q, positions=torch.tensor([m], device=device))
        kn = rope(k, positions=torch.tensor([n], device=device))
        return (qm * kn).sum().item()

    for m, n in [(3, 1), (10, 10), (0, 7)]:
        for s in (1, 5, 50):
            assert score(m + s, n + s) == pytest.approx(score(m, n), abs=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)


def test_rope_positions_argument(device):
    rope, x = rope_inputs(device, T=4)
    # Default positions are 0..T-1.
    torch.testing.assert_close(rope(x), rope(x, positions=torch.arange(4, device=device)))
    # Per-sequence positions (B, T): each row rotated by its own positions.
    pos = torch.tensor([[0, 1, 2, 3], [10, 11, 12, 13]], device=device)
    y = rope(x, positions=pos)
    torch.testing.assert_close(y[1], rope(x[1:], positions=pos[1])[0])
    with pytest.raises(ValueError, match="max_positions"):
        rope(torch.randn(1, 1, 65, 16, device=device))


def make_input_layer(device, dropout=0.0):
    torch.manual_seed(0)
    config = GPTConfig(block_size=8, vocab_size=30, n_embd=12, dropout=dropout)
    return TokenAndPositionEmbedding(config).to(device).eval()


def test_token_and_position_shapes(device):
    layer = make_input_layer(device)
    idx = torch.randint(30, (4, 6), device=device)
    out = layer(idx)
    assert out.shape == (4, 6, 12)
    torch.testing.assert_close(out, layer.wte(idx) + layer.wpe.weight[:6])
    assert set(layer.state_dict()) == {"wte.weight", "wpe.weight"}  # GPT-2's names


def test_token_and_position_same_token_differs_by_position(device):
    layer = make_input_layer(device)
    out = layer(torch.full((1, 8), 5, device=device))
    torch.testing.assert_close(out[0, 3] - out[0, 1], layer.wpe.weight[3] - layer.wpe.weight[1])


def test_token_and_position_rejects_long_sequences(device):
    layer = make_input_layer(device)
    layer(torch.zeros(2, 8, dtype=torch.long, device=device))  # block_size itself is fine
    with pytest.raises(ValueError, match="length 9 is longer than block_size 8"):
        layer(torch.zeros(2, 9, dtype=torch.long, device=device))


def test_token_and_position_dropout_only_in_training(device):
    layer = make_input_layer(device, dropout=0.5)
    idx = torch.randint(30, (2, 8), device=device)
    assert torch.equal(layer(idx), layer(idx))
    layer.train()
    assert (layer(idx) == 0).any()
