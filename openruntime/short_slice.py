"""A short CPU slice for the processes of exec middlewares, so that on a busy machine
they start when they are spawned, not a scheduler tick later.

Linux's scheduler since 6.6 (EEVDF) lets a running task finish its slice (RUN_TO_PARITY)
before a task that wakes, or arrives, takes the CPU, unless the newcomer asks for a
shorter slice (PREEMPT_SHORT, 6.12+). The slice ends at a tick: 4 ms at HZ=250. An
exec'd program is moved to the least busy CPU (exec balancing), so with every CPU busy an
exec middleware's process sat a tick behind a CPU-bound neighbour in most calls (perf
sched, docs/benchmarks.md): 3-4x a Go spawner's call at four busy loops on two CPUs. A Go
spawner escapes it only through its runtime's monitor thread, which wakes every 20-100 µs
while the program is busy and so makes the scheduler choose again that often.

`sched_setattr` with `sched_runtime` sets a SCHED_OTHER thread's slice without privilege.
The spawning thread asks for the shortest (0.1 ms) around posix_spawn and then goes back to
the kernel's default (a thread that kept it measured worse; nothing in openruntime gives
its threads another slice, so the default is theirs). The child inherits the short slice
at fork, and so does whatever it starts: resetting it once the program runs measured
0.05-0.1 ms slower at load 4. That costs a CPU-bound middleware little: slices end at a
tick, so under contention it is switched at most once a tick either way (at HZ=250 the
default 1.4 ms slice ends within every tick too). The runtime and persistent middlewares
keep the default: long-lived processes, theirs is the user's code.

Where it cannot work (kernels before 6.12, other architectures or a 32-bit Python, a
seccomp filter that refuses the call) it does nothing, after one try; a thread it cannot
apply to (a real-time one) spawns as before.
"""

from __future__ import annotations

import errno
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any

SLICE_NS = 100_000  # the shortest the kernel takes
_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}  # syscall numbers
_SCHED_FLAG_KEEP_POLICY = 0x08  # SCHED_BATCH or SCHED_IDLE stay what they are
_setattr: Any = None  # the call once looked up; False where it is not available
_attrs: dict[int, tuple[bytes, bytes]] = {}  # nice → (short, default)
_no_flags: Any = None  # sched_setattr's last argument, a C long


def _available() -> Any:
    global _setattr, _no_flags
    if _setattr is None:  # threads that get here together each look it up: one answer, set once
        found: Any = False
        system = os.uname()
        number = _SCHED_SETATTR.get(system.machine)  # the kernel's; 64-bit numbers for a 64-bit Python
        if number is not None and sys.maxsize > 2**32 and _kernel_at_least(system.release, (6, 12)):
            from openruntime.processes import c_long, libc_function

            syscall = libc_function("syscall", returns_long=True)
            if syscall is not None:
                from functools import partial

                _no_flags = c_long(0)  # also the pid argument: 0 is this thread
                # No Python frame between the caller and the call; each costs on this path.
                found = partial(syscall, c_long(number), _no_flags)  # (attr, flags)
        _setattr = found
    return _setattr


def _kernel_at_least(release: str, wanted: tuple[int, int]) -> bool:
    """Whether a release string ("6.18.44-fc-v1300") is at least `wanted` (major, minor)."""
    numbers = release.split("-", 1)[0].split(".")[:2]
    return len(numbers) == 2 and all(n.isdigit() for n in numbers) and (int(numbers[0]), int(numbers[1])) >= wanted


def sched_attr(nice: int, slice_ns: int) -> bytes:
    """struct sched_attr (its first version, 56 bytes, little-endian as both architectures
    above are): size, policy, flags, nice, priority, runtime (the slice; 0: the kernel's
    default), then deadline, period and the utilisation clamps, unused here."""
    import struct

    return struct.pack("<IIQiIQ24x", 56, 0, _SCHED_FLAG_KEEP_POLICY, nice, 0, slice_ns)


# Refusals that hold for every thread of this process: stop asking.
_PROCESS_WIDE = (errno.ENOSYS, errno.EPERM, errno.EACCES)


class short_slice:
    """`with short_slice():` around a spawn: the calling thread runs on SLICE_NS while in
    it, so that its child starts with that slice; the thread is on the default slice again
    on the way out."""

    __slots__ = ("_call", "_restore")

    def __enter__(self) -> None:
        self._restore: bytes | None = None
        call = _available()
        if not call:
            return
        nice = os.getpriority(os.PRIO_PROCESS, 0)  # this thread's: sched_setattr sets it too
        attrs = _attrs.get(nice)
        if attrs is None:
            attrs = _attrs[nice] = (sched_attr(nice, SLICE_NS), sched_attr(nice, 0))
        if call(attrs[0], _no_flags) != 0:
            _refused()  # EINVAL: a real-time thread, nothing to shorten; the others go on
            return
        self._call, self._restore = call, attrs[1]

    def __exit__(self, *exc: object) -> None:
        # The call this thread used on the way in: another thread may have turned it off since.
        if self._restore is not None and self._call(self._restore, _no_flags) != 0:
            global _setattr
            _setattr = False  # it could set the slice and not set it back: not again


def _refused() -> None:
    global _setattr
    from openruntime.processes import libc_errno

    if libc_errno() in _PROCESS_WIDE:
        _setattr = False
