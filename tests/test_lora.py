"""LoRA of scratchllm.lora: a LoRALinear is its base layer at the start and
base(x) + scaling * B A x after; merging changes no output; add_lora freezes
the rest and wraps exactly the GPT's linear layers; and the layer agrees with
Hugging Face's peft given the same A and B."""

import pytest
import torch
import torch.nn as nn

from scratchllm import lora
from scratchllm.config import GPTConfig
from scratchllm.lora import LoRALinear, add_lora, merge_lora
from scratchllm.model import GPT

TINY = dict(block_size=16, vocab_size=64, n_layer=2, n_head=2, n_embd=16)
MODERN = dict(norm="rmsnorm", mlp="swiglu", position="rope", bias=False, tie_embeddings=False)

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_gpt(seed=0, **fields):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **fields})).eval()


def randomise(layer, seed=1):
    """Random A and B: with B = 0 the correction would vanish."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_A.copy_(torch.randn(layer.lora_A.shape, generator=g))
        layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g))


def randomise_all(model, seed=1):
    for i, module in enumerate(m for m in model.modules() if isinstance(m, LoRALinear)):
        randomise(module, seed + i)


def ids(B=3, T=16, seed=2):
    return torch.randint(
        0, TINY["vocab_size"], (B, T), generator=torch.Generator().manual_seed(seed)
    )


# --- one layer ----------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_lora_linear_starts_as_its_base_layer(bias):
    torch.manual_seed(0)
    base = nn.Linear(12, 7, bias=bias)
    layer = LoRALinear(base, rank=3, alpha=6)
    assert layer.lora_A.shape == (3, 12) and layer.lora_B.shape == (7, 3)
    assert torch.count_nonzero(layer.lora_B) == 0 and torch.count_nonzero(layer.lora_A) > 0
    x = torch.randn(5, 4, 12)
    torch.testing.assert_close(layer(x), base(x), rtol=0, atol=0)


def test_lora_linear_freezes_its_base_and_trains_a_and_b():
    base = nn.Linear(12, 7)
    layer = LoRALinear(base, rank=3)
    trainable = {name for name, p in layer.named_parameters() if p.requires_grad}
    assert trainable == {"lora_A", "lora_B"}
    assert not base.weight.requires_grad and not base.bias.requires_grad


def test_lora_linear_adds_the_scaled_low_rank_product():
    torch.manual_seed(0)
    base = nn.Linear(12, 7)
    layer = LoRALinear(base, rank=3, alpha=12)
    assert layer.scaling == 4.0  # alpha / rank
    randomise(layer)
    x = torch.randn(5, 12)
    A, B = layer.lora_A.detach(), layer.lora_B.detach()
    expected = base(x) + 4.0 * x @ A.T @ B.T
    torch.testing.assert_close(layer(x), expected)
    assert not torch.allclose(layer(x), base(x))  # the correction is there


def test_lora_linear_trains_only_b_on_the_first_backward():
    """B = 0: the gradient reaches B, and through B = 0 nothing reaches A."""
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(6, 4), rank=2)
    layer(torch.randn(3, 6)).square().sum().backward()
    assert torch.count_nonzero(layer.lora_A.grad) == 0
    assert torch.count_nonzero(layer.lora_B.grad) > 0
    assert layer.base.weight.grad is None


@pytest.mark.parametrize("bias", [True, False])
def test_merged_layer_computes_the_same_function_in_one_linear(bias):
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(12, 7, bias=bias), rank=4, alpha=8)
    randomise(layer)
    merged = layer.merged()
    assert type(merged) is nn.Linear and (merged.bias is None) == (not bias)
    x = torch.randn(5, 12)
    torch.testing.assert_close(merged(x), layer(x), rtol=1e-5, atol=1e-5)
    A, B = layer.lora_A.detach(), layer.lora_B.detach()
    torch.testing.assert_close(merged.weight.detach(), layer.base.weight + 2.0 * B @ A)


def test_lora_rank_below_one_is_refused():
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 4), rank=0)


# --- a whole GPT --------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, layers",
    [
        ({}, ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")),
        (MODERN, ("attn.c_attn", "attn.c_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")),
    ],
    ids=["gpt2", "swiglu"],
)
def test_add_lora_wraps_every_linear_layer_of_each_block(fields, layers):
    model = tiny_gpt(**fields)
    replaced = add_lora(model, rank=2, alpha=4)
    expected = [f"transformer.h.{i}.{name}" for i in range(TINY["n_layer"]) for name in layers]
    assert sorted(replaced) == sorted(expected)
    wrapped = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    assert sorted(wrapped) == sorted(expected)
    # lm_head is no target, and neither is any layer inside a LoRALinear.
    assert type(model.lm_head) is nn.Linear
    assert all(type(m.base) is nn.Linear for m in model.modules() if isinstance(m, LoRALinear))


def test_add_lora_freezes_all_but_a_and_b_and_counts_rank_times_in_plus_out():
    model = tiny_gpt()
    rank = 3
    replaced = add_lora(model, rank=rank)
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.endswith((".lora_A", ".lora_B")) for name in trainable)
    assert len(trainable) == 2 * len(replaced)
    expected = 0
    for name in replaced:
        base = model.get_submodule(name).base
        expected += rank * (base.in_features + base.out_features)
    assert sum(p.numel() for p in trainable.values()) == expected
    C = TINY["n_embd"]
    # Per block: c_attn C -> 3C, attention's c_proj C -> C, c_fc C -> 4C, c_proj 4C -> C.
    per_block = rank * ((C + 3 * C) + (C + C) + (C + 4 * C) + (4 * C + C))
    assert expected == TINY["n_layer"] * per_block


def test_add_lora_leaves_the_model_output_unchanged_at_the_start():
    model = tiny_gpt()
    before = model(ids())[0]
    add_lora(model, rank=2)
    torch.testing.assert_close(model(ids())[0], before, rtol=0, atol=0)


def test_add_lora_takes_other_targets():
    model = tiny_gpt()
    replaced = add_lora(model, rank=2, targets=("c_fc",))
    assert replaced == [f"transformer.h.{i}.mlp.c_fc" for i in range(TINY["n_layer"])]


@pytest.mark.parametrize("fields", [{}, MODERN], ids=["gpt2", "modern"])
def test_merge_lora_leaves_plain_linears_and_the_same_outputs(fields):
    model = tiny_gpt(**fields)
    add_lora(model, rank=2, alpha=4)
    randomise_all(model)
    x = ids()
    with torch.no_grad():
        adapted = model(x)[0]
    assert not torch.allclose(adapted, tiny_gpt(**fields)(x)[0])  # the corrections count
    merged = merge_lora(model)
    assert merged is model
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], adapted, rtol=1e-4, atol=1e-4)
    # The merged model's state dict loads into a plain GPT of the same config.
    plain = GPT(model.config)
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(x)[0], adapted, rtol=1e-4, atol=1e-4)


def test_targets_name_the_linear_layers_of_both_mlps():
    assert set(lora.TARGETS) == {"c_attn", "c_proj", "c_fc", "gate_proj", "up_proj", "down_proj"}


# --- Hugging Face's peft --------------------------------------------------------


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(10, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        return self.out(self.c_attn(x))


def test_lora_linear_agrees_with_peft():
    import peft

    torch.manual_seed(0)
    model = Tiny()
    base = nn.Linear(10, 6)
    base.load_state_dict(model.c_attn.state_dict())
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], lora_dropout=0.0)
    wrapped = peft.get_peft_model(model, config)
    layer = wrapped.base_model.model.c_attn
    A, B = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    assert A.shape == (4, 10) and B.shape == (6, 4)
    assert torch.count_nonzero(B) == 0  # peft too starts at B = 0
    with torch.no_grad():
        B.copy_(torch.randn(B.shape, generator=torch.Generator().manual_seed(3)))
    ours = LoRALinear(base, rank=4, alpha=8)
    assert ours.scaling == layer.scaling["default"]
    with torch.no_grad():
        ours.lora_A.copy_(A)
        ours.lora_B.copy_(B)
    x = torch.randn(7, 10)
    with torch.no_grad():
        theirs = layer(x)
        torch.testing.assert_close(ours(x), theirs, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(theirs, base(x), atol=1e-3)  # not trivially equal
        torch.testing.assert_close(ours.merged()(x), theirs, rtol=1e-5, atol=1e-5)
    # The same parameters train: A and B of the targeted layer, nothing else.
    theirs_trained = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert theirs_trained == {
        "base_model.model.c_attn.lora_A.default.weight",
        "base_model.model.c_attn.lora_B.default.weight",
    }
    ours_model = Tiny()
    assert add_lora(ours_model, rank=4, alpha=8, targets=("c_attn",)) == ["c_attn"]
    assert {n for n, p in ours_model.named_parameters() if p.requires_grad} == {
        "c_attn.lora_A",
        "c_attn.lora_B",
    }
