"""LoRA: low-rank adaptation (Hu et al., 2021).

A pretrained weight W (out x in) stays frozen; the fine-tuning learns a
correction of rank r instead, as two thin matrices:

    y = W x + (alpha / r) * B A x        A: r x in,  B: out x r

B starts at zero, so the adapted model starts as the pretrained one.  Only
A and B are trained: r * (in + out) numbers instead of in * out.  After
training, merge() folds B A into W and the layer costs nothing extra.  An
adapter file (save_adapter, load_adapter) holds A and B alone: a small file
beside the pretrained checkpoint, one per task.
"""

import math

import torch
import torch.nn as nn

from scratchllm.io import atomic_write

# The GPT's linear layers: attention's input and output projections, the
# MLP's two (GELU) or three (SwiGLU) matrices.
TARGETS = ("c_attn", "c_proj", "c_fc", "gate_proj", "up_proj", "down_proj")


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank correction."""

    def __init__(self, base, rank=8, alpha=16, dropout=0.0):
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be at least 1, not {rank}")
        self.base = base
        base.requires_grad_(False)
        self.rank, self.alpha, self.scaling = rank, alpha, alpha / rank
        # On the low-rank path's input only (as peft's lora_dropout): the
        # frozen path goes on computing what the pretrained layer did.
        self.dropout = nn.Dropout(dropout)
        like = dict(dtype=base.weight.dtype, device=base.weight.device)
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, **like))
        # A as nn.Linear initialises its weight (and as the LoRA authors'
        # code does); B = 0 makes B A = 0 at the start.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False  # whether base.weight holds W + delta()

    def forward(self, x):
        if self.merged:
            return self.base(x)
        low_rank = self.dropout(x) @ self.lora_A.T @ self.lora_B.T
        return self.base(x) + low_rank * self.scaling

    def delta(self):
        """The correction as a weight matrix, out x in: (alpha / r) B A."""
        return self.lora_B @ self.lora_A * self.scaling

    @torch.no_grad()
    def merge(self):
        """Add delta() into base.weight: the same function (without the
        dropout) in one matmul.  A and B must not change until unmerge()."""
        if self.merged:
            raise RuntimeError("this LoRA layer is merged already")
        self.base.weight += self.delta()
        self.merged = True

    @torch.no_grad()
    def unmerge(self):
        """Subtract delta() from base.weight again, to go on training."""
        if not self.merged:
            raise RuntimeError("this LoRA layer is not merged")
        self.base.weight -= self.delta()
        self.merged = False


def submodules(model, kind, names=None):
    """(name, parent, attribute, module) of each module of type `kind` in
    `model` whose attribute name is in `names` (any name if None).  A list,
    made before the caller replaces any of them."""
    found = []
    for prefix, parent in model.named_modules():
        for attr, child in parent.named_children():
            if isinstance(child, kind) and (names is None or attr in names):
                name = f"{prefix}.{attr}" if prefix else attr
                found.append((name, parent, attr, child))
    return found


def add_lora(model, rank=8, alpha=16, targets=TARGETS, dropout=0.0):
    """Freeze every parameter of `model`, then replace each nn.Linear whose
    name ends in one of `targets` by a LoRALinear around it.  Returns the
    names replaced.  Modules added later (a classifier's head) train as
    usual."""
    model.requires_grad_(False)
    found = submodules(model, nn.Linear, targets)
    for _, parent, attr, linear in found:
        layer = LoRALinear(linear, rank, alpha, dropout)
        # In the mode of the layer it replaces: no dropout in an eval model.
        setattr(parent, attr, layer.train(linear.training))
    return [name for name, *_ in found]


def merge_lora(model):
    """Replace every LoRALinear in `model` by its base nn.Linear, with the
    correction merged in: a plain model again, whose state dict loads into
    a model without LoRA (for export).  Returns the model."""
    for _, parent, attr, layer in submodules(model, LoRALinear):
        if not layer.merged:
            layer.merge()
        setattr(parent, attr, layer.base)
    return model


def trainable_parameters(model):
    """How many numbers the optimizer updates: the elements of the
    parameters that require grad (a shared one counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_state_dict(model):
    """The A and B of each LoRALinear in `model`, by state-dict name: all
    that training with LoRA changes."""
    return {
        name: t
        for name, t in model.state_dict().items()
        if name.split(".")[-1] in ("lora_A", "lora_B")
    }


def save_adapter(path, model):
    """Write `model`'s LoRA adapter to `path` (atomically): the settings of
    its LoRALinear layers (rank, alpha, dropout, and the attribute names
    wrapped, as add_lora's targets) and their A and B (lora_state_dict),
    nothing of the frozen model.  load_adapter reads it back."""
    layers = submodules(model, LoRALinear)
    settings = {(m.rank, m.alpha, m.dropout.p) for *_, m in layers}
    if len(settings) != 1:
        # One file, one add_lora call: every layer must have the same ones.
        raise ValueError(
            f"a LoRA adapter needs LoRA layers of one rank, alpha and "
            f"dropout; this model has {sorted(settings) or 'none'}"
        )
    [(rank, alpha, dropout)] = settings
    adapter = dict(
        rank=rank,
        alpha=alpha,
        dropout=dropout,
        targets=sorted({attr for _, _, attr, _ in layers}),
        state={name: t.cpu() for name, t in lora_state_dict(model).items()},
    )
    atomic_write(path, lambda f: torch.save(adapter, f))


ADAPTER_KEYS = {"rank", "alpha", "dropout", "targets", "state"}


def read_adapter(path):
    """The dict save_adapter wrote to `path`, tensors on the CPU.  Raises
    ValueError, naming the file, if it holds something else."""
    with open(path, "rb") as f:  # a missing file stays FileNotFoundError
        try:
            adapter = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:  # other files fail the unpickler many ways
            raise ValueError(f"{path} is not a LoRA adapter: {e}") from e
    if not isinstance(adapter, dict) or not ADAPTER_KEYS <= adapter.keys():
        keys = ", ".join(sorted(ADAPTER_KEYS))
        raise ValueError(f"{path} is not a LoRA adapter (a dict of {keys})")
    return adapter


def load_adapter(model, path):
    """Put the adapter at `path` (save_adapter's) on `model`, a model
    without LoRA of the architecture it was trained on: add_lora with the
    file's settings, then the file's A and B.  Returns the model;
    merge_lora(model) then makes it as fast as the plain one.

    Raises ValueError, naming the file, if it is no adapter or its names or
    shapes do not fit `model`; the model is then left unchanged.
    """
    adapter = read_adapter(path)
    if submodules(model, LoRALinear):
        raise ValueError(f"cannot load {path}: the model has LoRA already")
    # The shapes add_lora will give A (r x in) and B (out x r).
    rank, targets = adapter["rank"], adapter["targets"]
    want = {}
    for name, _, _, linear in submodules(model, nn.Linear, targets):
        want[f"{name}.lora_A"] = (rank, linear.in_features)
        want[f"{name}.lora_B"] = (linear.out_features, rank)
    got = {name: tuple(t.shape) for name, t in adapter["state"].items()}
    for name in sorted(want.keys() | got.keys()):
        if want.get(name) != got.get(name):
            raise ValueError(
                f"{path} does not fit this model: {name} is "
                f"{got.get(name, 'absent')} in the adapter and "
                f"{want.get(name, 'absent')} in the model"
            )
    add_lora(model, rank, adapter["alpha"], targets, adapter["dropout"])
    model.load_state_dict(adapter["state"], strict=False)
    return model
