"""The output folder of an analysis: the manifest, the refusal to overwrite, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

MANIFEST = ".bayeswd-report.json"
_TMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


class OutputFolderError(FileExistsError):
    """The output folder holds a file no earlier run of bayeswd wrote (or one changed since).

    ``folder``, ``name`` (the first such file) and ``reason`` say which, for a caller that words
    its own message (the command line says ``--force``).
    """

    def __init__(self, folder: Path, name: str, reason: str):
        self.folder, self.name, self.reason = folder, name, reason
        super().__init__(
            f"{folder} holds {name!r}, {reason}; pass force=True to overwrite, or choose another folder"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict[str, list[str]]:
    """The files an earlier run wrote and their accepted SHA-256s; empty without a valid manifest."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
        return {str(k): [str(h) for h in v] for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_manifest(folder: Path, files: dict[str, list[str]]) -> None:
    from bayeswd import __version__

    text = json.dumps({"written_by": f"bayeswd {__version__}", "files": files}, indent=1, sort_keys=True)
    _write_atomic(folder / MANIFEST, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def check_output_folder(out: str | Path, force: bool = False) -> None:
    """Check that :func:`run_analysis` may write into ``out``.

    It may when ``out`` does not exist, or holds only files an earlier run listed in its
    manifest (``.bayeswd-report.json``) and has not changed since; with ``force`` it may write
    into any folder (it then replaces its own files and leaves the others alone).

    Raises
    ------
    NotADirectoryError
        ``out`` is a file.
    OutputFolderError
        ``out`` holds a foreign or changed file (the first, in name order), and not ``force``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file, not a folder")
    if force or not out.exists():
        return
    manifest = _read_manifest(out)
    for entry in sorted(out.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name == MANIFEST or _TMP.match(name):
            continue
        if name not in manifest:
            raise OutputFolderError(out, name, "which bayeswd did not write")
        if not entry.is_file() or _sha256(entry) not in manifest[name]:
            raise OutputFolderError(out, name, "which changed since bayeswd wrote it")


class Outputs:
    """The files of one run, kept in memory (or as writers) until :meth:`commit` puts them in place."""

    def __init__(self, folder: Path, force: bool):
        self.folder, self.force = folder, force
        self.files: dict[str, Callable[[Path], None]] = {}

    def add_bytes(self, name: str, data: bytes) -> None:
        """Write ``data`` as ``name`` at commit."""
        self.files[name] = lambda path: path.write_bytes(data)

    def add_writer(self, name: str, write: Callable[[Path], None]) -> None:
        """Write ``name`` at commit by calling ``write(temporary path)``."""
        self.files[name] = write

    def commit(self, last: str) -> Path:
        """Write every file, ``last`` last; return its path.

        1. every file to a temporary name in the folder (a failure here changes nothing);
        2. the manifest, accepting the old and the new content of each file;
        3. :func:`os.replace` of each into place, ``last`` last;
        4. the manifest of this run alone; files an earlier run wrote and this one did not are
           removed (unless changed since).
        """
        folder = self.folder
        check_output_folder(folder, self.force)  # again: a file may have appeared during the run
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():  # temporary files of a run that was killed
            if _TMP.match(stale.name):
                stale.unlink(missing_ok=True)
        old = _read_manifest(folder)
        order = [n for n in self.files if n != last] + [last]
        tmps: dict[str, Path] = {}
        try:
            for name in order:
                tmps[name] = folder / f".{name}.{secrets.token_hex(4)}.tmp"
                self.files[name](tmps[name])
            new = {name: [_sha256(tmp)] for name, tmp in tmps.items()}
            _write_manifest(folder, {name: old.get(name, []) + new.get(name, []) for name in {*old, *new}})
            for name in order:
                os.replace(tmps[name], folder / name)
                del tmps[name]
        finally:
            for tmp in tmps.values():
                tmp.unlink(missing_ok=True)
        for name in set(old) - set(new):
            path = folder / name
            if path.is_file() and _sha256(path) in old[name]:
                path.unlink()
        _write_manifest(folder, new)
        return folder / last
