"""The book's figure helpers draw what the module and the data say."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from figures.attention import plot_attention, plot_attention_heads
from figures.style import PALETTE, TEXT_WIDTH_IN, use_house_style
from figures.tikz import TikZPicture, attention_block_diagram, gpt_architecture_diagram
from scratchllm import CausalSelfAttention, GPTConfig
from scratchllm.model import GPT


def diagram(seq_len=9, **fields):
    config = GPTConfig(**{"block_size": 16, "n_head": 4, "n_embd": 32, **fields})
    return attention_block_diagram(CausalSelfAttention(config), seq_len)


def test_diagram_shows_the_module_numbers():
    latex = diagram()._repr_latex_()
    C, T, H, d = 32, 9, 4, 8
    assert rf"Linear ${C} \to {3 * C}$" in latex
    assert rf"Linear ${C} \to {C}$" in latex
    assert f"{(C * 3 * C + 3 * C):,}".replace(",", r"\,") in latex
    assert f"{(C * C + C):,}".replace(",", r"\,") in latex
    assert rf"${H}\times{T}\times{d}$" in latex
    assert rf"${H}\times{T}\times{T}$" in latex
    assert f"= {H}$ heads" in latex


def test_diagram_follows_the_config():
    small = diagram()._repr_latex_()
    big = diagram(seq_len=12, n_embd=48, n_head=6, bias=False)
    big = big._repr_latex_()
    assert small != big
    assert r"Linear $48 \to 144$" in big
    assert r"6\,912 parameters" in big  # 48 * 144, no bias
    assert r"$6\times12\times8$" in big


def test_diagram_rejects_sequences_longer_than_the_mask():
    with pytest.raises(ValueError):
        diagram(seq_len=17)


def test_tikz_picture_is_self_contained():
    latex = diagram()._repr_latex_()
    assert latex.rstrip().endswith(r"\end{tikzpicture}")
    assert latex.count(r"\begin{tikzpicture}") == 1
    for name in ("blue", "orange", "gray", "light"):
        hex_code = PALETTE[name].lstrip("#")
        assert rf"\definecolor{{house{name}}}{{HTML}}{{{hex_code}}}" in latex
    assert str(diagram()) == latex


def test_tikz_picture_defines_only_colours_it_uses():
    latex = TikZPicture(r"\draw[housered] (0,0) -- (1,0);")._repr_latex_()
    assert r"\definecolor{housered}" in latex
    assert r"\definecolor{houseblue}" not in latex


def test_plot_attention_labels_tokens_and_hides_the_future():
    tokens = ["the", "cat", "sat"]
    weights = torch.tensor([[1.0, 0.0, 0.0], [0.4, 0.6, 0.0], [0.2, 0.3, 0.5]])
    fig = plot_attention(weights, tokens, title="head 0")
    ax = fig.axes[0]
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == tokens
    assert ax.get_title() == "head 0"
    assert len(fig.axes) == 2  # the heatmap and its colorbar
    image = ax.get_images()[0].get_array()
    assert image.mask.sum() == 3  # the three future cells
    assert sorted(t.get_text() for t in ax.texts) == sorted(
        ["1.00", "0.40", "0.60", "0.20", "0.30", "0.50"]
    )
    plt.close(fig)


def test_plot_attention_rejects_mismatched_tokens():
    with pytest.raises(ValueError):
        plot_attention(np.eye(3), ["a", "b"])


def test_plot_attention_skips_numbers_for_long_sequences():
    T = 20
    weights = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    fig = plot_attention(weights, [f"t{i}" for i in range(T)])
    assert len(fig.axes[0].texts) == 0
    plt.close(fig)


def test_house_style_sets_text_width():
    use_house_style()
    assert matplotlib.rcParams["figure.figsize"][0] == TEXT_WIDTH_IN
    assert matplotlib.rcParams["pdf.fonttype"] == 42


# --- the whole GPT as a diagram -------------------------------------------------------


def count(n):
    return f"{n:,}".replace(",", r"\,")


def gpt_diagram(seq_len=None, **fields):
    config = GPTConfig(
        **{"block_size": 16, "vocab_size": 100, "n_layer": 3, "n_head": 4, "n_embd": 32, **fields}
    )
    torch.manual_seed(0)
    model = GPT(config)
    return model, gpt_architecture_diagram(model, seq_len)._repr_latex_()


def test_gpt_diagram_shows_gpt2_small_numbers():
    with torch.device("meta"):  # numel works without memory
        model = GPT(GPTConfig.gpt2())
    latex = gpt_architecture_diagram(model)._repr_latex_()
    assert r"Embedding $50257\times768$" in latex
    assert r"Embedding $1024\times768$" in latex
    assert count(50257 * 768) + " parameters" in latex
    assert count(124_439_808) + " parameters in all" in latex
    assert count(7_087_872) in latex  # one block: 12 C^2 + 13 C
    assert r"$n_{\mathrm{layer}} = 12$ blocks" in latex
    assert r"12 heads $\times$ 64" in latex
    assert r"GELU MLP $768 \to 3072 \to 768$" in latex
    assert r"$T \times V = 1024 \times 50257$" in latex  # seq_len defaults to block_size
    assert r"$1024\times768$" in latex  # the residual stream's shape on the arrows
    assert latex.count("LayerNorm") == 3 and "RMSNorm" not in latex
    assert r"tied to \texttt{wte}" in latex


def test_gpt_diagram_numbers_come_from_the_model():
    model, latex = gpt_diagram(seq_len=9)
    block = model.transformer.h[0]
    for module in (model.transformer.wte, model.transformer.wpe, block.ln_1, block.attn, block.mlp):
        assert count(sum(p.numel() for p in module.parameters())) + " parameters" in latex
    assert f"of {count(sum(p.numel() for p in block.parameters()))}" in latex
    assert count(sum(p.numel() for p in model.parameters())) + " parameters in all" in latex
    assert r"$n_{\mathrm{layer}} = 3$ blocks" in latex
    assert r"4 heads $\times$ 8" in latex
    assert r"$9\times32$" in latex and r"V = 9 \times 100$" in latex
    assert r"$0, \dots, 8$" in latex


def test_gpt_diagram_follows_the_config():
    _, small = gpt_diagram()
    _, big = gpt_diagram(n_layer=5, n_head=6, n_embd=48)
    assert small != big
    assert r"$n_{\mathrm{layer}} = 5$ blocks" in big
    assert r"6 heads $\times$ 8" in big
    assert r"MLP $48 \to 192 \to 48$" in big
    assert gpt_diagram(seq_len=5)[1] != small


@pytest.mark.parametrize(
    "field, gpt2_says, modern, modern_says",
    [
        ("norm", "LayerNorm", "rmsnorm", "RMSNorm"),
        ("mlp", "GELU MLP", "swiglu", "SwiGLU"),
        ("position", r"\texttt{wpe}", "rope", "RoPE"),
        ("tie_embeddings", r"tied to \texttt{wte}", False, None),
    ],
)
def test_gpt_diagram_shows_each_architectural_choice(field, gpt2_says, modern, modern_says):
    _, gpt2 = gpt_diagram()
    _, other = gpt_diagram(**{field: modern})
    assert gpt2_says in gpt2 and gpt2_says not in other
    if modern_says:
        assert modern_says in other and modern_says not in gpt2


def test_gpt_diagram_counts_an_untied_lm_head():
    embedding = count(100 * 32) + " parameters"
    _, tied = gpt_diagram()
    _, untied = gpt_diagram(tie_embeddings=False)
    assert tied.count(embedding) == 1 and untied.count(embedding) == 2  # wte, lm_head
    assert count(3 * 12_704 + 2 * 32 + 100 * 32 + 16 * 32) + " parameters in all" in tied
    assert count(3 * 12_704 + 2 * 32 + 2 * 100 * 32 + 16 * 32) + " parameters in all" in untied


def test_gpt_diagram_of_a_modern_model():
    model, latex = gpt_diagram(
        norm="rmsnorm", mlp="swiglu", position="rope", bias=False, tie_embeddings=False, n_hidden=80
    )
    assert r"SwiGLU $32 \to 80 \to 32$" in latex
    assert count(3 * 32 * 80) + " parameters" in latex  # gate, up, down; no biases
    assert "RMSNorm" in latex and "LayerNorm" not in latex
    assert "wpe" not in latex and "positions" not in latex
    assert r"Linear $32 \to 100$" in latex


def test_gpt_diagram_rejects_sequences_longer_than_the_context():
    model, _ = gpt_diagram()
    with pytest.raises(ValueError):
        gpt_architecture_diagram(model, seq_len=17)


# --- attention heads side by side -----------------------------------------------------


def causal_weights(n_head, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n_head, T, T, generator=g)
    scores = scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
    return scores.softmax(dim=-1)


@pytest.mark.parametrize("n_head, rows, cols", [(2, 1, 2), (4, 1, 4), (6, 2, 3), (12, 3, 4)])
def test_plot_attention_heads_grid(n_head, rows, cols):
    tokens = [f"t{i}" for i in range(7)]
    fig = plot_attention_heads(causal_weights(n_head, 7), tokens, title="layer 0")
    panels, colorbar = fig.axes[:-1], fig.axes[-1]
    assert len(panels) == n_head and colorbar.get_ylabel() == "weight"
    assert fig.get_size_inches()[0] == TEXT_WIDTH_IN
    assert [ax.get_title() for ax in panels] == [f"head {h}" for h in range(n_head)]
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in panels} == {(rows, cols)}
    assert fig.get_suptitle() == "layer 0"
    for h, ax in enumerate(panels):
        x = [t.get_text() for t in ax.get_xticklabels()]
        y = [t.get_text() for t in ax.get_yticklabels()]
        assert x == (tokens if h >= n_head - cols else [""] * 7)  # bottom row only
        assert y == (tokens if h % cols == 0 else [""] * 7)  # left column only
        image = ax.get_images()[0]
        assert image.get_array().mask.sum() == 7 * 6 // 2  # the future, hatched
        assert image.get_clim() == (0.0, 1.0)  # one colour scale for all
    plt.close(fig)


def test_plot_attention_heads_labels_a_ragged_last_row():
    tokens = list("abcde")
    fig = plot_attention_heads(causal_weights(5, 5).numpy(), tokens)  # 3 + 2 panels
    panels = fig.axes[:-1]
    labelled = [bool(panels[h].get_xticklabels()[0].get_text()) for h in range(5)]
    assert labelled == [False, False, True, True, True]  # head 2 has nothing below it
    plt.close(fig)


def test_plot_attention_heads_numbers_only_large_cells():
    few = plot_attention_heads(causal_weights(2, 4), list("abcd"))
    many = plot_attention_heads(causal_weights(12, 12), [f"t{i}" for i in range(12)])
    assert len(few.axes[0].texts) == 4 * 5 // 2
    assert all(len(ax.texts) == 0 for ax in many.axes)
    plt.close(few)
    plt.close(many)


def test_plot_attention_heads_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        plot_attention_heads(causal_weights(2, 4)[0], list("abcd"))  # one head, no head axis
    with pytest.raises(ValueError):
        plot_attention_heads(causal_weights(2, 4), list("abc"))
