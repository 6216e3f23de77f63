"""Read what an ELF file's headers say: the machine it runs on, the libraries it loads.

Enough of the format for a layer build to check that a binary is built for the target
architecture and that every library it needs is in the layer or on every Linux.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# e_machine of the ELF header, named as `uname -m` names them.
ELF_MACHINES = {3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm", 62: "x86_64",
                 183: "aarch64", 243: "riscv64"}
# Libraries every Linux has (glibc's); anything else an ELF file loads must be in the layer.
GLIBC = frozenset({"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
                    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"})

@dataclass(frozen=True)
class ElfInfo:
    """The parts of an ELF file's headers that say where it runs and what it loads."""

    machine: str  # "x86_64", "aarch64", … or "EM_<number>"
    bits: int  # 32 or 64
    needed: tuple[str, ...] = ()  # DT_NEEDED: shared libraries it loads
    runpath: tuple[str, ...] = ()  # DT_RUNPATH / DT_RPATH entries


def read_elf(data: bytes) -> ElfInfo | None:
    """The ELF header's machine and, for 64-bit little-endian files (every Lambda
    architecture), the dynamic section's NEEDED and RUNPATH. None when not an ELF file."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None
    bits = 64 if data[4] == 2 else 32
    endian = "<" if data[5] == 1 else ">"
    (number,) = struct.unpack_from(endian + "H", data, 18)
    machine = ELF_MACHINES.get(number, f"EM_{number}")
    if bits != 64 or endian != "<":
        return ElfInfo(machine, bits)
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads: list[tuple[int, int, int]] = []  # (vaddr, filesz, offset)
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + 56 > len(data):
            break
        p_type, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from("<IIQQQQ", data, at)
        if p_type == 1:  # PT_LOAD
            loads.append((vaddr, filesz, offset))
        elif p_type == 2:  # PT_DYNAMIC
            dynamic = (offset, filesz)
    if dynamic is None:
        return ElfInfo(machine, bits)  # statically linked
    tags: list[tuple[int, int]] = []
    offset, size = dynamic
    for at in range(offset, min(offset + size, len(data)) - 15, 16):
        tag, value = struct.unpack_from("<qQ", data, at)
        if tag == 0:  # DT_NULL
            break
        tags.append((tag, value))
    strtab = next((value for tag, value in tags if tag == 5), None)  # DT_STRTAB (an address)
    base = next((off + strtab - vaddr for vaddr, filesz, off in loads
                 if strtab is not None and vaddr <= strtab < vaddr + filesz), None)
    if base is None:
        return ElfInfo(machine, bits)

    def string(at: int) -> str:
        end = data.find(b"\0", base + at)
        return data[base + at:end].decode("utf-8", "replace")

    needed = tuple(string(value) for tag, value in tags if tag == 1)  # DT_NEEDED
    runpath = tuple(p for tag, value in tags if tag in (15, 29) for p in string(value).split(":") if p)
    return ElfInfo(machine, bits, needed, runpath)
