"""An on-disk cache of compiled object code, shared by every process of this user.

Entries live under `$EMBER_CACHE_DIR`, else `$XDG_CACHE_HOME/ember`, else `~/.cache/ember`;
`EMBER_CACHE=0` turns the cache off. The caller chooses the key text (what was compiled and
how); `key` adds everything else that changes the machine code: the LLVM and llvmlite
versions, the CPU and its features, and a fingerprint of Ember's compiler sources (so editing
a lowering or translation rule can never serve code made by the old one).

An entry is one file: a header (magic, the key digest, the payload's length and sha256) and
the payload. It is written to a temporary file in the same directory and renamed over the
entry, so readers in other processes see a whole entry or none; an entry that fails any check
(truncated, corrupted, written for another key) is deleted and reported as a miss, never used.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import tempfile
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm

_MAGIC = b"EMBEROBJ"
_FORMAT_VERSION = 1
# magic, key digest, payload length, payload sha256
_HEADER = struct.Struct(f"<{len(_MAGIC)}s32sQ32s")
# Sources whose edits change the generated code (the front end only produces graphs).
_COMPILER_PACKAGES = ("ir", "passes", "codegen")


def directory() -> Path | None:
    """The cache directory, or None when `EMBER_CACHE=0` disables the cache."""
    if os.environ.get("EMBER_CACHE", "1") == "0":
        return None
    explicit = os.environ.get("EMBER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ember"


@functools.lru_cache(maxsize=None)
def compiler_fingerprint() -> str:
    """sha256 of Ember's compiler sources (read once a process: a few milliseconds)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in _COMPILER_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def host_description() -> str:
    """The toolchain and the CPU that object code is compiled by and for."""
    return "\n".join([f"llvm {'.'.join(map(str, llvm.llvm_version_info))}",
                      f"llvmlite {llvmlite.__version__}", f"triple {llvm.get_process_triple()}",
                      f"cpu {llvm.get_host_cpu_name()}",
                      f"features {llvm.get_host_cpu_features().flatten()}"])


def key(text: str, settings: str, host: str | None = None) -> str:
    """The hex digest naming the entry for `text` compiled with `settings` on `host` (this
    machine by default; tests pass another to see the key change)."""
    digest = hashlib.sha256()
    for part in (f"format {_FORMAT_VERSION}", host_description() if host is None else host,
                 compiler_fingerprint(), settings, text):
        digest.update(part.encode())
        digest.update(b"\0")  # separators: no two different part lists hash alike
    return digest.hexdigest()


def _path(folder: Path, key_hex: str) -> Path:
    return folder / key_hex[:2] / f"{key_hex}.obj"


def load(key_hex: str) -> bytes | None:
    """The payload stored under `key_hex`, or None (no cache, no entry, or a bad entry, which
    is deleted so the next store replaces it)."""
    folder = directory()
    if folder is None:
        return None
    path = _path(folder, key_hex)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    payload = _check(data, key_hex)
    if payload is None:
        try:
            path.unlink()
        except OSError:
            pass  # another process removed or replaced it first
    return payload


def _check(data: bytes, key_hex: str) -> bytes | None:
    """The payload of entry `data` if it is whole and made for `key_hex`, else None."""
    if len(data) < _HEADER.size:
        return None
    magic, digest, length, checksum = _HEADER.unpack_from(data)
    payload = data[_HEADER.size:]
    if (magic != _MAGIC or digest != bytes.fromhex(key_hex) or length != len(payload)
            or hashlib.sha256(payload).digest() != checksum):
        return None
    return payload


def store(key_hex: str, payload: bytes) -> None:
    """Write the entry atomically; a cache that cannot be written is skipped, not an error."""
    folder = directory()
    if folder is None:
        return
    path = _path(folder, key_hex)
    header = _HEADER.pack(_MAGIC, bytes.fromhex(key_hex), len(payload),
                          hashlib.sha256(payload).digest())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header + payload)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        return
