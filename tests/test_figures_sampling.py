"""The decoding-rules figure shows the real distributions."""

import matplotlib.pyplot as plt
import pytest
import torch

from figures.sampling import plot_next_token_distributions
from scratchllm.sampling import next_token_probs

LABELS = [" a", " b", " c", " d", "\n", " f"]
LOGITS = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -2.0]])


def test_each_panel_draws_its_rule_on_the_first_rule_s_tokens():
    rules = {
        "temperature 1": next_token_probs(LOGITS)[0],
        "greedy": next_token_probs(LOGITS, temperature=0)[0],
        "top-k 2": next_token_probs(LOGITS, top_k=2)[0],
    }
    fig = plot_next_token_distributions(rules, LABELS, top=3)
    panels = fig.axes
    assert [ax.get_title().splitlines()[0] for ax in panels] == list(rules)
    assert [t.get_text() for t in panels[0].get_yticklabels()] == [" a", " b", " c", "all others"]
    widths = [bar.get_width() for bar in panels[1].patches]
    assert widths == pytest.approx([1.0, 0.0, 0.0, 0.0])  # greedy: all on " a"
    topk = [bar.get_width() for bar in panels[2].patches]
    assert sum(topk[:2]) == pytest.approx(1.0) and topk[3] == pytest.approx(0.0)
    assert panels[2].get_title().endswith("2 tokens possible")
    assert panels[1].get_title().endswith("\n1 token possible")  # greedy keeps one
    plt.close(fig)


def test_rejects_mismatched_labels():
    with pytest.raises(ValueError):
        plot_next_token_distributions({"t": next_token_probs(LOGITS)[0]}, LABELS[:3])
