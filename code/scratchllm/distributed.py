"""Data parallelism: one model per process, each on its share of the batch.

    torchrun starts N processes -> init_process_group (RANK, WORLD_SIZE, ...)
    each rank: the same initial weights, its rows of every global batch
    backward -> gradients averaged over the ranks (DDP) or reduced and
    sharded (FSDP2) -> the same optimizer step everywhere

The helpers here set up the process group, wrap the model and cut each
batch into its ranks' shares; scratchllm.train's DistributedTrainer uses
them.  Without torchrun (no WORLD_SIZE) nothing here runs.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

from scratchllm.dataset import _to as to_device

PARALLEL = ("ddp", "fsdp")


@dataclass(frozen=True)
class World:
    """This process's place among those torchrun started."""

    rank: int  # 0 .. size - 1 over all machines; rank 0 logs and saves
    size: int  # the number of processes
    local_rank: int  # its number on this machine: which GPU it drives


def launched():
    """Whether torchrun (or another launcher) started this process."""
    return "WORLD_SIZE" in os.environ


def init_process_group(device):
    """Join the group torchrun set up, from its environment variables
    (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK), and return
    the World and the device this rank trains on.  NCCL moves GPU tensors
    between GPUs directly; gloo moves CPU tensors."""
    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.device(device).type == "cuda":
        device = f"cuda:{local_rank}"  # one GPU per process
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=torch.device(device))
    else:
        dist.init_process_group("gloo")
    world = World(dist.get_rank(), dist.get_world_size(), local_rank)
    return world, device


def rank_rows(batches, world, device=None):
    """Rows rank, rank + size, rank + 2 size, ... of each global batch.

    Every rank draws the same global batch from identically seeded
    generators and keeps its own rows, as DistributedSampler keeps every
    size-th index of one shared shuffle: the ranks see disjoint data, and
    which windows a step trains on does not depend on how many ranks
    share it.
    """
    for x, y in batches:
        rows = slice(world.rank, None, world.size)
        yield to_device(x[rows].contiguous(), y[rows].contiguous(), device)


def wrap(model, parallel, device):
    """The model DDP or FSDP2 trains.  `model` must be on `device`.

    DDP keeps a full copy on every rank and averages the gradients during
    backward.  FSDP2's fully_shard replaces each parameter by a DTensor
    holding 1/size of it: each block gathers its weights just before it
    runs and frees them after, and gradients are reduce-scattered, so every
    rank holds and updates only its shard.  Sharding block by block, then
    the rest (embeddings, final norm, output layer) at the root, keeps one
    block's weights gathered at a time.
    """
    if parallel == "ddp":
        on_gpu = torch.device(device).type == "cuda"
        return DistributedDataParallel(
            model, device_ids=[device] if on_gpu else None
        )
    for block in model.transformer.h:
        fully_shard(block)
    return fully_shard(model)  # the same module, its class now FSDPModule


def all_reduce_sum(tensor):
    """The sum of `tensor` over all ranks, on every rank."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


# --- full state dicts of a sharded model ---------------------------------------
#
# A checkpoint holds what a single process's Trainer saves: the full
# weights by name, the optimizer's state by parameter number.  So it
# resumes on any number of ranks, or on one process without torchrun.

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def parameter_names(model, optimizer):
    """The names of the optimizer's parameters, in its numbering."""
    names = {id(p): name for name, p in model.named_parameters()}
    return [
        names[id(p)]
        for group in optimizer.param_groups
        for p in group["params"]
    ]


def full_state(model, optimizer):
    """The gathered weights and optimizer state of an FSDP2 model, on
    rank 0 (other ranks take part in the gathering and get empty dicts)."""
    weights = get_model_state_dict(model, options=FULL)
    by_name = get_optimizer_state_dict(model, optimizer, options=FULL)
    if not by_name:
        return weights, by_name
    number = {
        name: i for i, name in enumerate(parameter_names(model, optimizer))
    }
    state = {number[name]: s for name, s in by_name["state"].items()}
    groups = [
        {**group, "params": [number[name] for name in group["params"]]}
        for group in by_name["param_groups"]
    ]
    return weights, {"state": state, "param_groups": groups}


def load_full_state(model, optimizer, weights, optimizer_state):
    """Shard full weights and optimizer state, as full_state returns them,
    into an FSDP2 model and its optimizer (on every rank)."""
    names = parameter_names(model, optimizer)
    by_name = {
        "state": {names[i]: s for i, s in optimizer_state["state"].items()},
        "param_groups": [
            {**group, "params": [names[i] for i in group["params"]]}
            for group in optimizer_state["param_groups"]
        ],
    }
    options = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, weights, options=options)
    set_optimizer_state_dict(model, optimizer, by_name, options=options)
