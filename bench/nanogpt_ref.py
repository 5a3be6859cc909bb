"""The reference our Trainer is timed against: one iteration of nanoGPT's
train.py, reduced to what a step does, over the same GPT class.

    lr from the schedule -> batch -> forward (autocast) -> backward
        -> clip the gradient norm -> AdamW step -> zero the gradients

It shares the library's optimizer groups and schedule (nanoGPT's own:
``train.configure_optimizer`` and ``train.cosine_lr`` are the same code),
so that what differs from ``Trainer.train_step`` is the loop around them:
the batches, and that nothing is read back to the host each step.
Used by bench/bench_train.py (CPU) and scripts/gpu_pretrain.py (GPU).
"""

import contextlib

import numpy as np
import torch

from scratchllm.train import configure_optimizer, cosine_lr


def get_batch(data, block_size, batch_size):
    """nanoGPT's get_batch: random windows of a token array (a memmap),
    stacked on the host; starts drawn from torch's global generator."""

    def window(i):
        return torch.from_numpy(data[i : i + block_size].astype(np.int64))

    def batch():
        ix = torch.randint(len(data) - block_size, (batch_size,))
        x = torch.stack([window(i) for i in ix])
        y = torch.stack([window(i + 1) for i in ix])
        return x, y

    return batch


def random_tokens(vocab_size, block_size, batch_size, device):
    """Batches of random tokens drawn on the device: no host work at all,
    the fastest input a loop can have (nanoGPT's bench.py does the same)."""
    shape = (batch_size, block_size)

    def batch():
        x = torch.randint(vocab_size, shape, device=device)
        return x, torch.randint(vocab_size, shape, device=device)

    return batch


class Reference:
    """nanoGPT's loop over ``model``, one iteration per ``step()``, with the
    optimizer and schedule that ``config`` (a TrainConfig) sets."""

    def __init__(self, model, batches, config, autocast=contextlib.nullcontext):
        self.model, self.batches, self.config = model, batches, config
        self.autocast = autocast
        device_type = torch.device(config.device).type
        self.optimizer = configure_optimizer(
            model, config.weight_decay, config.max_lr, config.betas, device_type
        )
        self.iter_num = 0

    def step(self):
        c = self.config
        lr = cosine_lr(self.iter_num, c.max_lr, c.min_lr, c.warmup_steps, c.max_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = self.batches()
        with self.autocast():
            _, loss = self.model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.iter_num += 1
        return loss

    def run(self, steps):
        for _ in range(steps):
            self.step()
