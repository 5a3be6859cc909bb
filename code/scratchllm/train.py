"""Pretraining: the loop that turns a token file into a language model.

    random windows of train.bin -> model -> loss -> backward -> AdamW step
    every eval_interval steps: the loss on fixed windows of val.bin

The pieces, top to bottom: the optimizer and its two parameter groups, the
learning-rate schedule, the hyperparameters (TrainConfig), the Trainer that
runs the loop and saves checkpoints, the DistributedTrainer that runs it on
several processes (data parallel: DDP, or FSDP2), and a command line:

    python -m scratchllm.train --tokens data/ --out runs/small --n-layer 6 ...
    torchrun --standalone --nproc_per_node=4 -m scratchllm.train ...

Every source of randomness is seeded, so a run on the CPU is reproducible to
the last bit, and a run resumed from a checkpoint continues exactly as if it
had never stopped.
"""

import argparse
import dataclasses
import json
import math
import pickle
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from scratchllm.cli import at_least, run_command
from scratchllm.config import CHOICES, GPTConfig
from scratchllm.dataset import open_tokens, random_batches
from scratchllm.distributed import (
    PARALLEL,
    all_reduce_sum,
    full_state,
    init_process_group,
    launched,
    load_full_state,
    rank_rows,
    wrap,
)
from scratchllm.io import atomic_write
from scratchllm.model import GPT

# --- the optimizer and the learning-rate schedule ----------------------------


def configure_optimizer(model, weight_decay, lr, betas, device_type):
    """AdamW (Loshchilov and Hutter, 2019) with two parameter groups.

    Weight decay pulls weights towards 0 a little at every step.  It is
    applied to the 2-D tensors, the matrices of the matmuls and the
    embedding tables, where it keeps weights from growing without need; not
    to biases and norm gains (1-D), which are few and whose scale matters:
    decaying a norm's gain towards 0 would fight the very normalisation.
    On a GPU the fused kernel updates all parameters in one launch.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    matrices = [p for p in params if p.dim() >= 2]
    vectors = [p for p in params if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    fused = device_type == "cuda" and torch.cuda.is_available()
    return torch.optim.AdamW(
        groups, lr=lr, betas=tuple(betas), fused=True if fused else None
    )


def cosine_lr(step, max_lr, min_lr, warmup_steps, max_steps):
    """The learning rate at `step`: linear warmup, then cosine decay.

        steps 0 .. warmup_steps:      rises linearly to max_lr
        steps warmup_steps .. max:    falls along half a cosine to min_lr
        after max_steps:              min_lr

    Warmup: at the start Adam's estimates of the gradient's scale are poor
    and the weights random, so full-size steps could throw the model far
    off; ramping up avoids that.  Decay: late in training smaller steps
    settle into a minimum instead of bouncing around it.
    """
    if step < warmup_steps:
        # (step + 1) / (warmup_steps + 1): never 0, max_lr at warmup_steps.
        return max_lr * (step + 1) / (warmup_steps + 1)
    if step >= max_steps:
        return min_lr
    progress = (step - warmup_steps) / (max_steps - warmup_steps)  # 0 .. 1
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 .. 0
    return min_lr + cosine * (max_lr - min_lr)


# --- hyperparameters ----------------------------------------------------------


@dataclass
class TrainConfig:
    """Everything about a training run except the model's shape."""

    batch_size: int = 16  # sequences per micro-batch
    block_size: int = 256  # tokens per sequence (<= the model's block_size)
    grad_accum_steps: int = 1  # micro-batches per optimizer step
    max_steps: int = 1000  # optimizer steps
    warmup_steps: int = 100
    max_lr: float = 6e-4
    min_lr: float = 6e-5  # nanoGPT and Chinchilla: a tenth of max_lr
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.95)  # GPT-3's; 0.95 reacts faster than 0.999
    grad_clip: float = 1.0  # largest gradient norm; 0: no clipping
    eval_interval: int = 100  # steps between validation losses
    eval_batches: int = 20  # validation batches averaged per evaluation
    seed: int = 1337
    device: str = "cpu"  # "cuda" for a GPU
    dtype: str = "float32"  # or "bfloat16": autocast, for GPUs
    compile: bool = False  # torch.compile the model (GPUs)
    checkpoint_path: str | None = None  # None: no checkpoints
    checkpoint_interval: int = 0  # steps between checkpoints; 0: at the end
    log_interval: int = 10  # steps between history records

    def __post_init__(self):
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(
                f"dtype must be float32 or bfloat16, not {self.dtype!r}"
            )
        self.betas = tuple(self.betas)  # a list, when read back from JSON

    @property
    def tokens_per_step(self):
        return self.batch_size * self.block_size * self.grad_accum_steps


def make_model(model_config, seed):
    """A GPT whose initial weights depend on nothing but `seed`."""
    torch.manual_seed(seed)
    return GPT(model_config)


# --- evaluation ---------------------------------------------------------------


@torch.no_grad()
def estimate_loss(model, batches, autocast=nullcontext, weighted=False):
    """The mean loss over `batches`, in eval mode (no dropout), no gradients.

    When each batch holds as many tokens as the next (random_batches), the
    mean of the batch means is the mean over all tokens.  weighted=True
    weights each batch's mean by its number of targets, for batches of
    unequal size (sequential_batches, whose last batches are smaller, and
    fine-tuning's padded batches, whose -1 targets do not count).
    """
    was_training = model.training
    model.eval()
    losses, targets = [], []
    for x, y in batches:
        with autocast():
            _, loss = model(x, y)
        losses.append(loss.float())
        targets.append((y != -1).sum().item())
    model.train(was_training)
    losses = torch.stack(losses)
    if not weighted:
        return losses.mean().item()
    weights = torch.tensor(targets, dtype=losses.dtype, device=losses.device)
    return (losses @ weights / weights.sum()).item()


# --- the progress line --------------------------------------------------------


class Progress:
    """One status line, redrawn in place with a carriage return.

    Only on a terminal: in a log file or a notebook's captured output the
    redraws would pile up as one endless line, so elsewhere it is silent
    (the history holds the numbers).
    """

    def __init__(self, total, stream=None, quiet=False):
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.enabled = not quiet and self.stream.isatty()

    def update(self, record):
        if not self.enabled:
            return
        done = record["step"] / self.total
        bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
        line = f"\r[{bar}] {record['step']}/{self.total}"
        line += f" loss {record['train_loss']:.4f}"
        if record["val_loss"] is not None:
            line += f" val {record['val_loss']:.4f}"
        line += f" {record['tokens_per_s']:,.0f} tok/s"
        self.stream.write(line + "\033[K")  # \033[K: erase the old tail
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


# --- the trainer --------------------------------------------------------------


class Trainer:
    """Trains `model` on windows of `train_tokens` (a token array, or the
    path of one), evaluating on `val_tokens`.

    trainer.run() trains to config.max_steps and returns the history: one
    dict per record, with keys step, train_loss, val_loss (None between
    evaluations), lr, grad_norm, tokens_per_s and elapsed (seconds).
    """

    quiet = False  # True: no progress line (all ranks of a run but one)
    world_size = 1  # processes that share each step (DistributedTrainer)

    def __init__(self, model, train_tokens, val_tokens, config):
        if config.block_size > model.config.block_size:
            raise ValueError(
                f"TrainConfig.block_size {config.block_size} exceeds the "
                f"model's {model.config.block_size}"
            )
        self.config = config
        self.device = torch.device(config.device)
        self.raw_model = model.to(self.device)  # what checkpoints hold
        # torch.compile traces the model into fused GPU kernels; the
        # compiled module shares the raw model's parameters.
        self.model = torch.compile(model) if config.compile else model
        self.optimizer = configure_optimizer(
            model,
            config.weight_decay,
            config.max_lr,
            config.betas,
            self.device.type,
        )
        self.val_tokens = val_tokens
        # Batches draw from a generator of their own, dropout from torch's
        # global one (seeded when run() starts): checkpoints save both.
        self.generator = torch.Generator().manual_seed(config.seed)
        self.batches = self.train_batches(train_tokens)
        self.step = 0  # optimizer steps taken
        self.history = []
        self.elapsed = 0.0  # seconds of training, over all sessions

    def train_batches(self, tokens):
        """The endless stream of micro-batches the steps train on."""
        cfg = self.config
        return random_batches(
            tokens,
            cfg.block_size,
            cfg.batch_size,
            generator=self.generator,
            device=self.device,
        )

    @property
    def tokens_per_step(self):
        return self.config.tokens_per_step * self.world_size

    def autocast(self):
        """bfloat16 matmuls where they are safe, float32 elsewhere (softmax,
        norms, the loss): about twice the speed on a GPU's tensor cores.
        bfloat16 has float32's range, so no loss scaling is needed."""
        return torch.autocast(
            self.device.type,
            dtype=torch.bfloat16,
            enabled=self.config.dtype == "bfloat16",
        )

    def val_batches(self):
        """The same eval_batches windows of the validation tokens every
        time (a generator of their own, seeded afresh), so that changes in
        the validation loss come from the model, not from the sample."""
        g = torch.Generator().manual_seed(self.config.seed)
        return random_batches(
            self.val_tokens,
            self.config.block_size,
            self.config.batch_size * self.world_size,  # the global batch
            generator=g,
            num_batches=self.config.eval_batches,
            device=self.device,
        )

    def estimate_loss(self):
        return estimate_loss(self.model, self.val_batches(), self.autocast)

    def accumulate_gradients(self):
        """Forward and backward over grad_accum_steps micro-batches; returns
        the mean loss.  Gradients add up across backward calls, so dividing
        each loss by their number gives the gradient of the mean over one
        large batch, computed in pieces that fit in memory."""
        accum = self.config.grad_accum_steps
        total = 0.0
        for _ in range(accum):
            x, y = next(self.batches)
            with self.autocast():
                _, loss = self.model(x, y)
            (loss / accum).backward()
            total += loss.detach()
        return total / accum

    def train_step(self):
        """One optimizer step; returns (loss, learning rate, grad norm)."""
        cfg = self.config
        lr = cosine_lr(
            self.step, cfg.max_lr, cfg.min_lr, cfg.warmup_steps, cfg.max_steps
        )
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = self.accumulate_gradients()
        # Clipping rescales the whole gradient when its norm exceeds
        # grad_clip: one bad batch cannot throw the weights far off.
        clip = cfg.grad_clip or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)  # frees the memory
        self.step += 1
        return loss.item(), lr, norm.item()

    def run(self, until=None, callback=None):
        """Train from the current step to `until` (default: max_steps) and
        return the history.  Stopping early does not change the schedule,
        which is laid out over max_steps.  callback(record) is called with
        each new history record."""
        cfg = self.config
        until = cfg.max_steps if until is None else min(until, cfg.max_steps)
        if self.step == 0:  # a fresh run: dropout's draws from the seed
            torch.manual_seed(cfg.seed)
        progress = Progress(cfg.max_steps, quiet=self.quiet)
        self.model.train()
        start, last_step = time.perf_counter(), self.step
        elapsed_before, last_time = self.elapsed, start
        while self.step < until:
            loss, lr, norm = self.train_step()
            s = self.step
            evaluate = s % cfg.eval_interval == 0 or s == cfg.max_steps
            if not (evaluate or s % cfg.log_interval == 0 or s == until):
                continue
            now = time.perf_counter()
            self.elapsed = elapsed_before + now - start
            tokens = (s - last_step) * self.tokens_per_step
            record = dict(
                step=s,
                train_loss=loss,
                val_loss=self.estimate_loss() if evaluate else None,
                lr=lr,
                grad_norm=norm,
                tokens_per_s=tokens / max(now - last_time, 1e-9),
                elapsed=self.elapsed,
            )
            self.history.append(record)
            last_step, last_time = s, time.perf_counter()
            progress.update(record)
            if callback is not None:
                callback(record)
            interval = cfg.checkpoint_interval
            if cfg.checkpoint_path and interval and s % interval == 0:
                self.save_checkpoint(cfg.checkpoint_path)
        progress.close()
        if cfg.checkpoint_path:
            self.save_checkpoint(cfg.checkpoint_path)
        return self.history

    # --- checkpoints ----------------------------------------------------------

    def save_checkpoint(self, path):
        """Everything needed to continue exactly where we are: weights,
        Adam's moment estimates, the step, both random generators, the
        configs and the history.  Written to a temporary file and renamed,
        so a crash mid-write leaves the previous checkpoint intact."""
        state = self.checkpoint_state()
        atomic_write(path, lambda f: torch.save(state, f))

    def state_dicts(self):
        """The weights and the optimizer's state, as checkpoints hold them."""
        return self.raw_model.state_dict(), self.optimizer.state_dict()

    def load_state_dicts(self, weights, optimizer_state):
        self.raw_model.load_state_dict(weights)
        self.optimizer.load_state_dict(optimizer_state)

    def checkpoint_state(self):
        """What save_checkpoint writes."""
        on_gpu = self.device.type == "cuda"
        weights, optimizer_state = self.state_dicts()
        return dict(
            model=weights,
            optimizer=optimizer_state,
            step=self.step,
            generator=self.generator.get_state(),
            rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state(self.device) if on_gpu else None,
            config=dataclasses.asdict(self.config),
            model_config=dataclasses.asdict(self.raw_model.config),
            history=self.history,
            elapsed=self.elapsed,
        )

    def load_checkpoint(self, path):
        """Restore the state save_checkpoint wrote; the next run() goes on
        from its step.  The model must have the checkpoint's shape."""
        # Loaded to the CPU: the generator states must stay there, and
        # load_state_dict copies the rest to wherever the model is.
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.load_state_dicts(state["model"], state["optimizer"])
        self.step = state["step"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.history = state["history"]
        self.elapsed = state["elapsed"]
        return self


class DistributedTrainer(Trainer):
    """The Trainer of one rank of a run on several processes (torchrun;
    call distributed.init_process_group first).

    Every rank builds the same model from the same seed and trains it on
    its rows of each global batch: batch_size rows per rank and micro-step,
    so a step takes batch_size x grad_accum_steps x world_size sequences.
    parallel="ddp" keeps a full copy of the weights on every rank,
    "fsdp" shards them (FSDP2).  Steps, and so the learning-rate schedule,
    count global steps; checkpoints are those of a single process, which
    resume on any number of ranks with the same global batch.
    """

    def __init__(
        self, model, train_tokens, val_tokens, config, world, parallel="ddp"
    ):
        self.world, self.parallel = world, parallel
        self.world_size, self.quiet = world.size, world.rank != 0
        model = model.to(config.device)
        if parallel == "fsdp":  # in place: the optimizer must hold the shards
            wrap(model, parallel, config.device)
        super().__init__(model, train_tokens, val_tokens, config)
        if parallel == "ddp":
            self.ddp = wrap(self.raw_model, parallel, self.device)
            self.model = torch.compile(self.ddp) if config.compile else self.ddp

    def train_batches(self, tokens):
        """Each micro-step draws the rows of all ranks with the shared seed
        and keeps this rank's (rank_rows)."""
        cfg = self.config
        batches = random_batches(
            tokens,
            cfg.block_size,
            cfg.batch_size * self.world_size,
            generator=self.generator,
        )
        return rank_rows(batches, self.world, self.device)

    def gradient_sync(self, last):
        """Gradients cross between the ranks only in the backward of the
        last micro-batch; before it each rank adds into its own."""
        if self.parallel == "fsdp":
            self.raw_model.set_requires_gradient_sync(last)
            return nullcontext()
        return nullcontext() if last else self.ddp.no_sync()

    def accumulate_gradients(self):
        """Forward and backward over this rank's micro-batches; returns the
        mean loss over all targets of the global batch.

        Each micro-batch's mean loss is weighted by its share of the global
        batch's targets (those not -1), so that batches holding unequal
        numbers of targets (padding, masks) give the mean one process would
        take over all of them.  DDP and FSDP2 average the ranks' gradients:
        multiplying by world_size turns the average into the sum of shares.
        """
        accum = self.config.grad_accum_steps
        micro = [next(self.batches) for _ in range(accum)]
        counts = [(y != -1).sum() for _, y in micro]
        total = all_reduce_sum(torch.stack(counts).sum())
        loss_sum = torch.zeros((), device=self.device)
        for i, ((x, y), count) in enumerate(zip(micro, counts, strict=True)):
            with self.gradient_sync(last=i == accum - 1):
                with self.autocast():
                    _, loss = self.model(x, y)
                (loss * (count * self.world_size / total)).backward()
            loss_sum += loss.detach().float() * count
        return all_reduce_sum(loss_sum) / total

    def estimate_loss(self):
        """DDP: rank 0 evaluates its copy of the weights, the others return
        None.  FSDP2: every rank runs the forward, which gathers the shards,
        and all get the loss."""
        if self.parallel == "ddp" and self.world.rank != 0:
            return None
        return estimate_loss(self.raw_model, self.val_batches(), self.autocast)

    def state_dicts(self):
        if self.parallel == "fsdp":  # gathered from all ranks onto rank 0
            return full_state(self.raw_model, self.optimizer)
        return super().state_dicts()  # DDP: every rank holds them whole

    def load_state_dicts(self, weights, optimizer_state):
        if self.parallel == "fsdp":
            load_full_state(
                self.raw_model, self.optimizer, weights, optimizer_state
            )
        else:
            super().load_state_dicts(weights, optimizer_state)

    def checkpoint_state(self):
        return dict(super().checkpoint_state(), world_size=self.world_size)

    def save_checkpoint(self, path):
        """All ranks gather the state, rank 0 writes it, and all wait for
        the file: no rank goes on, or reads it, before it is complete."""
        state = self.checkpoint_state()
        if self.world.rank == 0:
            atomic_write(path, lambda f: torch.save(state, f))
        dist.barrier()


def train(model, train_tokens, val_tokens, config, callback=None):
    """Train `model` with a new Trainer; returns the history."""
    trainer = Trainer(model, train_tokens, val_tokens, config)
    return trainer.run(callback=callback)


def save_model(path, model):
    """The weights and shape of `model` alone, which load_model reads: a
    snapshot or a fine-tuned model, without a trainer's state."""
    state = dict(
        model_config=dataclasses.asdict(model.config),
        model=model.state_dict(),
    )
    atomic_write(path, lambda f: torch.save(state, f))


def load_model(path, device="cpu"):
    """The GPT saved in a checkpoint, in eval mode, on `device`."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval()


# --- the command line ---------------------------------------------------------

EPILOG = """example (a tiny model: about a minute on a laptop's CPU):
  python -m scratchllm.train --tokens runs/quick/tokens \\
      --out runs/quick/model --n-layer 2 --n-head 4 --n-embd 64 \\
      --block-size 64 --batch-size 16 \\
      --max-steps 600 --max-lr 3e-3 --min-lr 3e-4 --warmup-steps 30 --until 300
then the same command with --resume instead of --until 300 trains steps
301..600, exactly as one run without --until would have.

on several GPUs or CPU processes, one per device, started by torchrun:
  torchrun --standalone --nproc_per_node=4 -m scratchllm.train --device cuda \\
      --tokens runs/quick/tokens --out runs/quick/ddp ... [--parallel fsdp]
each rank trains on its --batch-size rows of every micro-batch: a step takes
batch-size x grad-accum-steps x nproc_per_node sequences, and --max-steps,
--warmup-steps and --eval-interval count these global steps.  cuda ranks
talk over NCCL, cpu ranks over gloo.  Rank 0 evaluates, logs and writes
OUT; its ckpt.pt resumes on any number of processes (or on one, without
torchrun) with the same global batch: on half the processes, double
--batch-size (the same windows as before) or --grad-accum-steps.
"""


def device(name):
    """An argparse type: a torch device this machine has, kept as text."""
    try:
        kind = torch.device(name).type
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"unknown device {name!r} (cpu, cuda, cuda:1, mps, ...)"
        ) from None
    here = torch.accelerator.current_accelerator()
    if kind != "cpu" and (here is None or here.type != kind):
        raise argparse.ArgumentTypeError(
            f"{name!r}: this machine has no {kind} device"
        )
    return name


# The values a field accepts, where its type alone would let nonsense
# through: a negative number of steps, a device this machine lacks.
POSITIVE = (
    "batch_size block_size grad_accum_steps max_steps eval_interval"
    " eval_batches log_interval n_layer n_head n_embd"
).split()
RATES = "max_lr min_lr weight_decay grad_clip dropout norm_eps rope_base"
FIELD_TYPES = {
    **dict.fromkeys(POSITIVE, at_least(1)),
    **dict.fromkeys(["warmup_steps", "checkpoint_interval"], at_least(0)),
    **dict.fromkeys(RATES.split(), at_least(0.0, float)),
    "device": device,
}
FIELD_CHOICES = dict(CHOICES, dtype=("float32", "bfloat16"))


def add_fields(parser, cls, skip=()):
    """One --option per field of the dataclass cls, typed by its default."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(
                flag, default=f.default, action=argparse.BooleanOptionalAction
            )
        elif isinstance(f.default, tuple):
            parser.add_argument(
                flag, default=f.default, type=float, nargs=len(f.default)
            )
        else:
            parser.add_argument(
                flag,
                default=f.default,
                choices=FIELD_CHOICES.get(f.name),
                type=FIELD_TYPES.get(f.name, type(f.default)),
                help=f"default: {f.default}",
            )


def field_values(args, cls, skip=()):
    """The values add_fields parsed for the fields of cls."""
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    return {name: getattr(args, name) for name in names}


def token_vocab_size(path):
    """The vocabulary size write_tokens recorded in `path`'s sidecar."""
    return json.loads(Path(f"{path}.json").read_text())["vocab_size"]


def read_splits(tokens, block_size):
    """DIR/train.bin and DIR/val.bin, and the vocabulary they share."""
    splits, vocab = {}, {}
    for name in ("train", "val"):
        path = tokens / f"{name}.bin"
        if not Path(f"{path}.json").exists():
            raise FileNotFoundError(
                f"no token file {path} (python -m scratchllm.tokenizer "
                f"encode writes it)"
            )
        splits[name], vocab[name] = open_tokens(path), token_vocab_size(path)
        if len(splits[name]) <= block_size:
            raise ValueError(
                f"{path} holds {len(splits[name])} tokens, too few for one "
                f"window of --block-size {block_size} + 1"
            )
    if vocab["train"] != vocab["val"]:
        raise ValueError(
            f"{tokens}: train.bin has a vocabulary of {vocab['train']}, "
            f"val.bin of {vocab['val']}: encode both with one tokenizer"
        )
    return splits["train"], splits["val"], vocab["train"]


def check_model(config):
    """The shape errors the model would otherwise meet as an assert."""
    if config.n_embd % config.n_head:
        raise ValueError(
            f"--n-embd {config.n_embd} is not a multiple of "
            f"--n-head {config.n_head}"
        )
    if config.position == "rope" and config.n_embd // config.n_head % 2:
        raise ValueError(
            "rope rotates channels in pairs: --n-embd / --n-head must be even"
        )


@contextmanager
def reading_checkpoint(path):
    """What torch.load raises on a file that is no checkpoint, as one
    ValueError naming the file."""
    try:
        yield
    except (pickle.UnpicklingError, RuntimeError, KeyError):
        msg = f"{path} is not a checkpoint python -m scratchllm.train wrote"
        raise ValueError(msg) from None


def check_resume(checkpoint, model_config):
    """The checkpoint holds a model of the shape asked for."""
    with reading_checkpoint(checkpoint):
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    saved = state["model_config"]
    for name, value in dataclasses.asdict(model_config).items():
        if saved.get(name) != value:
            flag = "--" + name.replace("_", "-")
            if name == "vocab_size":
                flag = "the tokens' vocabulary"
            raise ValueError(
                f"{checkpoint} holds a model with {name} {saved.get(name)}, "
                f"but {flag} gives {value}: resume with the run's own "
                f"settings and tokens, or train into another --out"
            )


TRAIN_SKIP = ("checkpoint_path",)
MODEL_SKIP = ("block_size", "vocab_size", "n_hidden")


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.train",
        description=(
            "Pretrain a GPT on DIR/train.bin, validating on DIR/val.bin"
            " (files python -m scratchllm.tokenizer encode writes)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tokens", required=True, metavar="DIR", type=Path)
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        type=Path,
        help="where ckpt.pt and history.json go",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/ckpt.pt if it exists",
    )
    parser.add_argument(
        "--until",
        type=at_least(1),
        metavar="STEP",
        help=(
            "stop after STEP (the schedule still spans --max-steps):"
            " a long run in sessions"
        ),
    )
    parser.add_argument(
        "--parallel",
        choices=PARALLEL,
        default="ddp",
        help=(
            "under torchrun: a copy of the weights per rank (ddp) or a"
            " shard (fsdp, FSDP2); default: ddp"
        ),
    )
    add_fields(parser, TrainConfig, skip=TRAIN_SKIP)
    add_fields(parser, GPTConfig, skip=MODEL_SKIP)
    return parser


def pretrain(args):
    """The run the parsed command line asks for, new or resumed; under
    torchrun, this process's rank of it."""
    world = None
    if launched():  # torchrun started this process: join the others
        world, args.device = init_process_group(args.device)
    main = world is None or world.rank == 0  # the process that logs, writes
    train_tokens, val_tokens, vocab_size = read_splits(
        args.tokens, args.block_size
    )
    checkpoint = args.out / "ckpt.pt"
    config = TrainConfig(
        **field_values(args, TrainConfig, TRAIN_SKIP),
        checkpoint_path=str(checkpoint),
    )
    model_config = GPTConfig(
        **field_values(args, GPTConfig, MODEL_SKIP),
        block_size=args.block_size,
        vocab_size=vocab_size,
    )
    check_model(model_config)
    resume = args.resume and checkpoint.exists()
    if resume:
        check_resume(checkpoint, model_config)
    if config.device.startswith("cuda"):
        # TF32 matmuls for whatever autocast leaves in float32.
        torch.set_float32_matmul_precision("high")

    args.out.mkdir(parents=True, exist_ok=True)
    model = make_model(model_config, config.seed)
    if world is None:
        trainer = Trainer(model, train_tokens, val_tokens, config)
    else:
        trainer = DistributedTrainer(
            model, train_tokens, val_tokens, config, world, args.parallel
        )
        if main:
            print(
                f"world size {world.size} ({args.parallel}): a global batch of "
                f"{trainer.tokens_per_step // config.block_size} sequences, "
                f"{trainer.tokens_per_step:,} tokens per step",
                file=sys.stderr,
            )
    if resume:
        trainer.load_checkpoint(checkpoint)
        if main:
            print(f"resuming from step {trainer.step}", file=sys.stderr)
    # On a terminal the progress bar redraws its line; in a log file, a
    # line per evaluation stands in for it.
    log = not sys.stderr.isatty()

    def write_history():
        text = json.dumps(trainer.history, indent=1).encode()
        atomic_write(args.out / "history.json", lambda f: f.write(text))

    def evaluated(record):
        if record["val_loss"] is None:
            return
        write_history()
        if log:
            print(
                f"step {record['step']}/{config.max_steps}: train loss "
                f"{record['train_loss']:.4f}, val loss "
                f"{record['val_loss']:.4f}",
                file=sys.stderr,
            )

    history = trainer.run(
        until=args.until, callback=evaluated if main else None
    )
    if world is not None:
        dist.destroy_process_group()
    if not main:
        return
    write_history()
    if history:
        last = history[-1]
        val = last["val_loss"]
        print(
            f"step {last['step']}: train loss {last['train_loss']:.4f}, "
            + ("" if val is None else f"val loss {val:.4f}, ")
            + f"{last['elapsed']:.1f} s"
        )


def main(argv=None):
    parser = make_parser()
    run_command(parser, pretrain, parser.parse_args(argv))


if __name__ == "__main__":
    main()
