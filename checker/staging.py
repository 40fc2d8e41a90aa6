"""Copy a learner's `oas3/` into a private folder, reading nothing a learner could point elsewhere.

Everything the checker reads of a submission, the parent's YAML checks and the
sandbox's Python alike, comes from this copy. A link, device or FIFO is never
followed or opened: it is refused with a sentence the learner can act on, as is
a file above `FILE_LIMIT` bytes. So `oas3/api.py -> /etc/passwd`, `oas3 ->
../alice/oas3` or a YAML linked to `/dev/zero` grade as what they are.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

FILE_LIMIT = 1024**2  #: bytes: larger specs and modules are refused as too large
MAX_FILES = 200  #: files copied from one oas3/ folder

LINK = "oas3/{name} is a link to {target}: hand in the file itself, not a link."
FOLDER_LINK = "oas3 is a link to {target}: hand in the folder itself, not a link."
NOT_A_FILE = "oas3/{name} is a {kind}, not a file: hand in a plain file."
TOO_LARGE = "oas3/{name} is too large ({size:,} bytes; at most {limit:,}): a spec or module this big is not the exercise."


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _read_plain(path: Path, limit: int) -> bytes:
    """Read a regular file without following a link, at most `limit` + 1 bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class Staged:
    """The private copy: `folder` holds the plain files; `refused` says why others were left out."""

    def __init__(self, oas3: Path, root: Path | None = None):
        """`root`: copy into this folder (emptied first) instead of a new one: a kept sandbox sees it."""
        self.root = root or Path(tempfile.mkdtemp(prefix="checker-staged-"))
        self.folder = self.root / "oas3"
        if self.folder.is_dir():  # kept: empty it, but keep the folder itself, which the sandbox binds
            for old in self.folder.iterdir():
                shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
        else:
            self.folder.mkdir()
        os.chmod(self.root, 0o755)  # the sandbox's unprivileged uid reads it through a read-only bind
        os.chmod(self.folder, 0o755)
        self.refused: dict[str, str] = {}
        self.folder_refused: str | None = None
        self._copy(oas3)

    def _copy(self, oas3: Path) -> None:
        try:
            info = os.lstat(oas3)
        except OSError:
            return
        if stat.S_ISLNK(info.st_mode):
            self.folder_refused = FOLDER_LINK.format(target=os.readlink(oas3))
            return
        if not stat.S_ISDIR(info.st_mode):
            return
        try:
            entries = sorted(os.scandir(oas3), key=lambda entry: entry.name)[:MAX_FILES]
        except OSError:
            return
        for entry in entries:
            self._copy_one(entry)

    def _copy_one(self, entry: os.DirEntry) -> None:
        name = entry.name
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            return
        if stat.S_ISDIR(info.st_mode):
            return  # __pycache__, .ipynb_checkpoints: nothing graded lives in a subfolder
        if stat.S_ISLNK(info.st_mode):
            try:
                target = os.readlink(entry.path)
            except OSError:
                target = "somewhere else"
            self.refused[name] = LINK.format(name=name, target=target)
            return
        if not stat.S_ISREG(info.st_mode):
            self.refused[name] = NOT_A_FILE.format(name=name, kind=_kind(info.st_mode))
            return
        if info.st_size > FILE_LIMIT:
            self.refused[name] = TOO_LARGE.format(name=name, size=info.st_size, limit=FILE_LIMIT)
            return
        try:
            data = _read_plain(Path(entry.path), FILE_LIMIT)
        except OSError:
            self.refused[name] = NOT_A_FILE.format(name=name, kind="special file")
            return
        if len(data) > FILE_LIMIT:  # it grew while we read it
            self.refused[name] = TOO_LARGE.format(name=name, size=len(data), limit=FILE_LIMIT)
            return
        target = self.folder / name
        target.write_bytes(data)
        os.chmod(target, 0o644)

    def refusal(self, name: str) -> str | None:
        """Why `oas3/name` was not copied, or None if it was (or never existed)."""
        return self.folder_refused or self.refused.get(name)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
