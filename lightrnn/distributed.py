"""Data-parallel training and reallocation under ``torchrun`` (PyTorch DDP; NCCL on GPUs, gloo on CPU).

``torchrun --nproc_per_node N -m lightrnn train ...`` (or ``--nnodes``/``--rdzv-endpoint`` for
several nodes, the standard rendezvous) runs N copies of the same command. Each rank reads its
own contiguous shard of the token stream (rank r gets tokens [r*n, (r+1)*n) with n = N_tokens //
world), so with a per-rank batch B the global batch is the same B*world streams a single process
would get from ``batchify`` of the whole text, in the same order. Gradients are averaged by DDP,
so a step equals a single-process step on the global batch. Validation runs on every rank over
the whole validation split (identical numbers, so the learning-rate schedule stays in step);
logs, metrics and checkpoints come from rank 0 only. Reallocation sums the loss matrices of all
ranks (all-reduce); rank 0 solves and writes the table, the others wait at a barrier so no rank
reads a half-written file (writes are atomic renames as well).
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

__all__ = ["DistContext", "from_env", "shard", "DistributedLM", "all_reduce_sum"]


@dataclass
class DistContext:
    rank: int = 0  # global rank of this process
    world: int = 1  # number of processes
    local_rank: int = 0  # rank within this node (selects the GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def from_env(device: torch.device) -> DistContext:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    Returns a single-process context when WORLD_SIZE is unset or 1.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        # Leave the group before the interpreter exits: a gloo group still alive at exit made
        # a rank abort now and then ("terminate called without an active exception", exit -6),
        # failing a job whose work was done (2 of 8 two-rank reallocations on a 2-core CPU).
        atexit.register(_leave)
    return DistContext(rank=rank, world=world, local_rank=local_rank)


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(tokens: np.ndarray, ctx: DistContext, batch_size: int = 1) -> np.ndarray:
    """This rank's contiguous, equal-length slice of the token stream (a view, no copy).

    Each rank gets ``(N // (world * B)) * B`` tokens, so that its B streams are exactly streams
    ``rank*B .. rank*B + B - 1`` of ``batchify(tokens, world * B)`` in a single process.
    """
    if not ctx.enabled:
        return tokens
    n = (len(tokens) // (ctx.world * batch_size)) * batch_size
    return tokens[ctx.rank * n:(ctx.rank + 1) * n]


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (in place on a contiguous tensor; returned for chaining)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


class DistributedLM(DistributedDataParallel):
    """DDP wrapper that keeps the language-model interface (init_hidden, table, config, ...)."""

    def init_hidden(self, batch_size: int):
        return self.module.init_hidden(batch_size)

    def param_counts(self) -> dict[str, int]:
        return self.module.param_counts()

    @property
    def config(self):
        return self.module.config

    @property
    def table(self):
        return getattr(self.module, "table", None)

    def state_dict(self, *args, **kwargs):  # checkpoints hold the bare model's keys
        return self.module.state_dict(*args, **kwargs)


def gather_hidden(hidden, ctx: DistContext):
    """Concatenate every rank's carried state along the batch axis (rank order), on every rank.

    Shape: each of (h, c) is (L, B, H) per rank -> (L, B * world, H).
    """
    if not ctx.enabled:
        return hidden
    out = []
    for h in hidden:
        parts = [torch.empty_like(h) for _ in range(ctx.world)]
        dist.all_gather(parts, h.contiguous())
        out.append(torch.cat(parts, dim=1))
    return tuple(out)
