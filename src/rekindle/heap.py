"""Give large freed buffers back to the operating system at once (glibc's malloc).

glibc serves allocations over `M_MMAP_THRESHOLD` (128 KiB at first) with their own `mmap`, which
`free` unmaps. But the threshold is dynamic: after such a buffer is freed it rises to that
buffer's size (up to 32 MiB), so later buffers of that size come from the heap arenas, one per
thread, and stay in the process after `free`. Decoding images frees hundreds of MB of Pillow
blocks and numpy strips on request threads; with the dynamic threshold the API kept the memory of
earlier decodes while the next one ran (benchmarks/decode_memory.py: three 60 MP uploads at once
grew it by 720 MB instead of 480 MB under `DECODE_MAX_PARALLEL=2`). A fixed threshold (set
through `mallopt`, glibc's `malloc(3)` tunable, same as `MALLOC_MMAP_THRESHOLD_`) turns the dynamic
adjustment off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # <malloc.h>
LARGE_BUFFER_BYTES = 1024 * 1024
"""Allocations of at least this many bytes get their own mapping, returned when freed."""


def return_large_frees_to_os(threshold: int = LARGE_BUFFER_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes for this process. Returns False (and does
    nothing) where the C library is not glibc (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.debug("no mallopt here: large frees stay with the allocator")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
