"""The training-loop figure is drawn from the trainer it shows."""

import torch

from figures.loop import training_loop_diagram
from scratchllm.config import GPTConfig
from scratchllm.train import TrainConfig, Trainer, make_model


def test_the_loop_diagram_reads_its_numbers_from_the_trainer():
    model = make_model(GPTConfig(block_size=16, vocab_size=50, n_layer=1, n_head=2, n_embd=8), 0)
    tokens = torch.randint(0, 50, (1234,))
    config = TrainConfig(
        batch_size=3, block_size=16, max_steps=4321, warmup_steps=7, max_lr=2e-3, grad_clip=0.5
    )
    latex = training_loop_diagram(Trainer(model, tokens, tokens, config), tokens)._repr_latex_()
    n = sum(p.numel() for p in model.parameters())
    assert "$3 \\times 16$ token ids" in latex
    assert f"gradients of {n:,} weights".replace(",", "\\,") in latex
    assert "clip the norm to 0.5" in latex and "peak 0.002, warmup 7" in latex
    assert "up to 4\\,321" in latex and "\\footnotesize 1\\,234}" in latex
    assert "\\definecolor{houseblue}" in latex  # self-contained colours
    unclipped = Trainer(model, tokens, tokens, TrainConfig(block_size=16, grad_clip=0))
    assert "no clipping" in training_loop_diagram(unclipped, tokens)._repr_latex_()
