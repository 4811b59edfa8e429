"""What every network psychobench trains itself shares: a fixed CPU thread count.

The thread count changes the order in which the kernels sum and so the trained weights (the pitch
network trained with 1 and with 2 threads on one machine: 24 of its 28 tensors differed), while
the cache keys a network by its task alone.  So training always runs on :data:`TRAIN_THREADS`
threads, whatever torch's setting or the machine's core count, and the caller's setting comes
back afterwards.  (Another CPU model or another device can still give other weights: the key
says what was trained, the seal says that the bytes are the ones written.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: CPU threads every trained network is trained with (the settings were tuned on 2 cores)
TRAIN_THREADS = 2


@contextmanager
def training_threads(n: int = TRAIN_THREADS) -> Iterator[None]:
    """Run the block with torch on ``n`` threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
