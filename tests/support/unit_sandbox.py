"""Run a command under a systemd unit's seccomp sandbox, as systemd sets it up:
`python unit_sandbox.py UNIT COMMAND...`.

Its SystemCallFilter= allow-list (groups expanded by `systemd-analyze
syscall-filter`; any other call kills the process, SIGSYS) and its
RestrictAddressFamilies= (a socket() of another family fails with EAFNOSUPPORT) are
loaded with libseccomp, then COMMAND is exec'd: seccomp filters outlive execve.
Only these two settings are applied; the rest of the sandbox needs systemd itself.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys
from pathlib import Path

_ALLOW = 0x7FFF0000  # SCMP_ACT_ALLOW
_KILL = 0x80000000  # SCMP_ACT_KILL_PROCESS
_REFUSE_FAMILY = 0x00050000 | 97  # SCMP_ACT_ERRNO(EAFNOSUPPORT)
_EQUAL = 4  # SCMP_CMP_EQ


class _Compare(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("a", ctypes.c_uint64),
        ("b", ctypes.c_uint64),
    )


def settings(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if line and line[0] not in "#;[" and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def allowed_syscalls(names: list[str]) -> set[str]:
    """The calls an allow-list lets through, its groups expanded by systemd."""
    allowed: set[str] = set()
    todo = [name for value in names for name in value.split()]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if not name.startswith("@"):
            allowed.add(name)
            continue
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", name],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        todo += [
            line.strip()
            for line in listing.splitlines()[1:]
            if line.strip() and not line.strip().startswith("#")
        ]
    return allowed


def _load(unit: Path) -> None:
    found = settings(unit)
    seccomp = ctypes.CDLL("libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    families = {
        int(getattr(socket, n)) for n in found["RestrictAddressFamilies"][0].split()
    }
    refused = ctypes.c_void_p(seccomp.seccomp_init(ctypes.c_uint32(_ALLOW)))
    number = seccomp.seccomp_syscall_resolve_name(b"socket")
    for family in range(64):
        if family not in families:
            compare = (_Compare * 1)(_Compare(0, _EQUAL, family, 0))
            action = ctypes.c_uint32(_REFUSE_FAMILY)
            assert (
                seccomp.seccomp_rule_add_array(refused, action, number, 1, compare) == 0
            )
    calls = ctypes.c_void_p(seccomp.seccomp_init(ctypes.c_uint32(_KILL)))
    for name in allowed_syscalls(found["SystemCallFilter"]) | {"execve"}:
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number >= 0:  # a name of another architecture
            seccomp.seccomp_rule_add(calls, ctypes.c_uint32(_ALLOW), number, 0)
    assert seccomp.seccomp_load(refused) == 0
    assert seccomp.seccomp_load(calls) == 0


if __name__ == "__main__":
    _load(Path(sys.argv[1]))
    os.execv(sys.argv[2], sys.argv[2:])  # noqa: S606  # the command, as given
