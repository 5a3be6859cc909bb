"""Decoding (scratchllm.sampling): greedy, temperature, top-k, top-p, the end
token, and a KV cache that changes nothing but the speed."""

import math

import pytest
import torch

from scratchllm.config import GPTConfig
from scratchllm.sampling import (
    KVCache,
    generate,
    next_token_probs,
    sample_next,
    stream,
    top_k_filter,
    top_p_filter,
)
from scratchllm.train import make_model

V = 64
TINY = dict(block_size=32, vocab_size=V, n_layer=2, n_head=2, n_embd=32)
VARIANTS = {
    "learned": {},
    "rope": dict(norm="rmsnorm", mlp="swiglu", position="rope", bias=False, tie_embeddings=False),
    "teaching": dict(attention="teaching"),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_model(device, **fields):
    return make_model(GPTConfig(**{**TINY, **fields}), 0).to(device).eval()


def random_logits(device, B=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (3 * torch.randn(B, V, generator=g)).to(device)


def seeded(seed=1):
    return torch.Generator().manual_seed(seed)


def prompt(device, B=2, T=5):
    return torch.randint(0, V, (B, T), generator=seeded(3)).to(device)


# --- sample_next ----------------------------------------------------------------


def test_temperature_zero_is_greedy(device):
    logits = random_logits(device)
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1, keepdim=True))


@pytest.mark.parametrize("cut", [dict(top_k=1), dict(top_p=1e-6)])
def test_a_nucleus_of_one_is_greedy(device, cut):
    logits = random_logits(device, B=64)
    ids = sample_next(logits, temperature=1.5, generator=seeded(), **cut)
    assert torch.equal(ids.cpu(), logits.argmax(-1, keepdim=True).cpu())


def test_sampling_is_seeded_and_varied():
    logits = torch.zeros(1, V).expand(200, V)  # uniform over the vocabulary
    a = sample_next(logits, generator=seeded(5))
    assert torch.equal(a, sample_next(logits, generator=seeded(5)))
    assert len(a.unique()) > V // 2


def test_top_k_keeps_k_tokens(device):
    logits = random_logits(device)
    kept = torch.isfinite(top_k_filter(logits, 5))
    assert (kept.sum(-1) == 5).all()
    assert torch.equal(kept, torch.zeros_like(kept).scatter(-1, logits.topk(5).indices, True))
    assert torch.isfinite(top_k_filter(logits, 10 * V)).all()  # k > V: keep all


@pytest.mark.parametrize("p, n_kept", [(0.45, 1), (0.6, 2), (0.9, 3), (0.99, 4), (1.0, 4)])
def test_top_p_keeps_the_smallest_set_reaching_p(p, n_kept):
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])  # in order: 0.5, 0.3, 0.15, 0.05
    kept = torch.isfinite(top_p_filter(probs.log(), p))[0]
    order = [1, 3, 2, 0]
    assert kept[order].tolist() == [True] * n_kept + [False] * (4 - n_kept)


def test_top_p_samples_only_from_the_nucleus():
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]]).expand(500, 4)
    ids = sample_next(probs.log(), top_p=0.7, generator=seeded())
    assert set(ids.flatten().tolist()) == {1, 3}


@pytest.mark.parametrize(
    "rule", [dict(temperature=0.7), dict(temperature=1.5, top_k=5), dict(top_p=0.8)]
)
def test_next_token_probs_is_the_distribution_sample_next_draws_from(rule):
    logits = random_logits("cpu", B=4)
    probs = next_token_probs(logits, **rule)
    assert torch.allclose(probs.sum(-1), torch.ones(4))
    assert torch.equal(
        sample_next(logits, generator=seeded(7), **rule),
        torch.multinomial(probs, 1, generator=seeded(7)),
    )


def test_next_token_probs_sharpen_below_one_and_cut_to_the_filters():
    logits = random_logits("cpu", B=4)
    greedy = next_token_probs(logits, temperature=0)
    assert torch.equal(greedy.argmax(-1), logits.argmax(-1)) and (greedy.max(-1).values == 1).all()
    top = logits.argmax(-1, keepdim=True)
    p_cold, p_warm = (next_token_probs(logits, t).gather(-1, top) for t in (0.5, 2.0))
    assert (p_cold > p_warm).all()  # a lower temperature puts more on the likeliest
    assert ((next_token_probs(logits, top_k=3) > 0).sum(-1) == 3).all()


# --- the KV cache ----------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cached_forward_matches_the_model(device, variant):
    model = tiny_model(device, **VARIANTS[variant])
    idx = torch.randint(0, V, (2, 32), generator=seeded(4)).to(device)
    expected, _ = model(idx)
    cache = KVCache(TINY["n_layer"])

    def cached_forward(ids):
        return model(ids, cache=cache)[0]

    # A prompt of 10, a chunk of 7, then one token at a time.
    pieces = [cached_forward(idx[:, :10]), cached_forward(idx[:, 10:17])]
    pieces += [cached_forward(idx[:, t : t + 1]) for t in range(17, 32)]
    assert cache.length == 32
    torch.testing.assert_close(torch.cat(pieces, dim=1), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="block_size"):
        cached_forward(idx[:, :1])


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize(
    "decoding",
    [dict(temperature=0), dict(temperature=1.0), dict(temperature=0.8, top_k=10, top_p=0.9)],
    ids=["greedy", "sampled", "top-k-top-p"],
)
def test_cache_gives_the_same_tokens(device, variant, decoding):
    model = tiny_model(device, **VARIANTS[variant])
    idx = prompt(device)
    # 40 new tokens run past block_size 32: the context window slides.
    runs = [
        generate(model, idx, 40, generator=seeded(), use_cache=use_cache, **decoding)
        for use_cache in (True, False)
    ]
    assert runs[0].shape == (2, 45)
    assert torch.equal(runs[0], runs[1])


# --- generate ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("use_cache", [True, False])
def test_gpt_generate_is_sampling_generate(device, variant, use_cache):
    # GPT.generate (transformer chapter) and generate (pretraining chapter)
    # draw the same tokens from the same seed, with and without the cache.
    model = tiny_model(device, **VARIANTS[variant])
    idx = prompt(device)
    ours = generate(
        model, idx, 40, temperature=0.8, top_k=10, generator=seeded(), use_cache=use_cache
    )
    theirs = model.generate(idx, 40, temperature=0.8, top_k=10, generator=seeded())
    assert theirs.shape == (2, 45)
    assert torch.equal(ours, theirs)
    other = model.generate(idx, 40, temperature=0.8, top_k=10, generator=seeded(2))
    assert not torch.equal(other, theirs)  # the seed matters, so the test can fail


def test_generate_stops_at_the_end_token(device):
    model = tiny_model(device)
    idx = prompt(device)
    free = generate(model, idx, 20, temperature=0)
    eos = free[0, 5].item()  # make row 0's first new token the end token
    out = generate(model, idx, 20, temperature=0, eos_id=eos)
    ended = [row.tolist().index(eos) if eos in row[5:].tolist() else None for row in free[:, 5:]]
    if ended[1] is None:  # row 1 never ends: it runs to max_new_tokens
        assert out.shape == (2, 25)
    assert out[0, 5:].tolist() == [eos] * (out.size(1) - 5)  # row 0: padded with eos
    assert torch.equal(out[1], free[1, : out.size(1)])  # row 1 is unaffected
    single = generate(model, idx[:1], 20, temperature=0, eos_id=eos)
    assert single.shape == (1, 6) and single[0, -1].item() == eos


def test_generate_restores_the_mode(device):
    model = tiny_model(device, dropout=0.5).train()
    a = generate(model, prompt(device), 5, temperature=0)
    assert model.training
    assert torch.equal(a, generate(model.eval(), prompt(device), 5, temperature=0))


def test_untrained_model_spreads_over_the_vocabulary(device):
    # Sanity: sampled tokens spread over the vocabulary (no stuck cache).
    model = tiny_model(device)
    out = generate(model, prompt(device, B=4), 30, generator=seeded())
    assert len(out[:, 5:].unique()) > V / math.e


# --- stream ------------------------------------------------------------------------


@pytest.mark.parametrize("use_cache", [True, False])
def test_stream_yields_what_generate_returns(device, use_cache):
    model = tiny_model(device)
    idx = prompt(device)
    free = generate(model, idx, 20, temperature=0)
    stops = [free[0, 8].item(), free[1, 12].item()]  # each row meets one
    for decoding in (dict(temperature=0), dict(temperature=0.8, top_k=10, top_p=0.9)):
        steps = list(
            stream(
                model, idx, 20, stop_ids=stops, generator=seeded(), use_cache=use_cache, **decoding
            )
        )
        assert all(step.shape == (2, 1) for step in steps)
        out = generate(
            model, idx, 20, eos_id=stops, generator=seeded(), use_cache=use_cache, **decoding
        )
        assert torch.equal(torch.cat((idx, *steps), dim=1), out)


def test_generate_stops_at_any_of_several_ids(device):
    model = tiny_model(device)
    idx = prompt(device)
    free = generate(model, idx, 20, generator=seeded())
    stops = [free[0, 12].item(), free[1, 8].item()]
    out = generate(model, idx, 20, eos_id=stops, generator=seeded())
    # Where each row first produces one of them (row 0 by 12, row 1 by 8).
    ends = [next(t for t in range(5, 25) if row[t] in stops) for row in free]
    assert out.size(1) == max(ends) + 1  # generation ends with the last row
    for row, free_row, end in zip(out, free, ends, strict=True):
        assert torch.equal(row[: end + 1], free_row[: end + 1])
        assert (row[end:] == free_row[end]).all()  # padded with its own stop
    assert not torch.equal(out, free[:, : out.size(1)])  # some padding shows


def test_stream_restores_the_mode_when_left_early(device):
    model = tiny_model(device, dropout=0.5).train()
    steps = stream(model, prompt(device), 10, temperature=0)
    next(steps)
    assert not model.training  # no dropout while generating
    steps.close()
    assert model.training
