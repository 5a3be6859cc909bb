"""LoRA: low-rank adaptation (Hu et al., 2021).

A pretrained weight W (out x in) stays frozen; the fine-tuning learns a
correction of rank r instead, as two thin matrices:

    y = W x + (alpha / r) * B A x        A: r x in,  B: out x r

B starts at zero, so the adapted model starts as the pretrained one.  Only
A and B are trained: r * (in + out) numbers instead of in * out.  After
training, merge() folds B A into W and the layer costs nothing extra.
"""

import math

import torch
import torch.nn as nn

# The GPT's linear layers: attention's input and output projections, the
# MLP's two (GELU) or three (SwiGLU) matrices.
TARGETS = ("c_attn", "c_proj", "c_fc", "gate_proj", "up_proj", "down_proj")


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank correction."""

    def __init__(self, base, rank=8, alpha=16):
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be at least 1, not {rank}")
        self.base = base
        base.requires_grad_(False)
        self.rank, self.scaling = rank, alpha / rank
        like = dict(dtype=base.weight.dtype, device=base.weight.device)
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, **like))
        # A as nn.Linear initialises its weight (and as the LoRA authors'
        # code does); B = 0 makes B A = 0 at the start.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def merged(self):
        """An nn.Linear computing the same function in one matmul."""
        linear = nn.Linear(
            self.base.in_features,
            self.base.out_features,
            bias=self.base.bias is not None,
        ).to(self.base.weight)
        with torch.no_grad():
            delta = self.lora_B @ self.lora_A * self.scaling
            linear.weight.copy_(self.base.weight + delta)
            if self.base.bias is not None:
                linear.bias.copy_(self.base.bias)
        return linear


def add_lora(model, rank=8, alpha=16, targets=TARGETS):
    """Freeze every parameter of `model`, then replace each nn.Linear whose
    name ends in one of `targets` by a LoRALinear around it.  Returns the
    names replaced.  Modules added later (a classifier's head) train as
    usual."""
    model.requires_grad_(False)
    replaced = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child_name in targets:
                setattr(module, child_name, LoRALinear(child, rank, alpha))
                replaced.append(f"{name}.{child_name}" if name else child_name)
    return replaced


def merge_lora(model):
    """Replace every LoRALinear in `model` by its merged nn.Linear."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, child_name, child.merged())
    return model
