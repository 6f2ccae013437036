"""`writable_folder`: every output folder is proven writable, with one line when it is not."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from raygan.errors import RayganError
from raygan.files import writable_folder


@contextlib.contextmanager
def unwritable_folder(tmp_path: Path):
    """A folder this process cannot create files in, whoever it runs as: immutable (chattr +i)
    where the filesystem allows it, else mode 0o500 for a user that is not root."""
    folder = tmp_path / "ro"
    folder.mkdir()
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode == 0:
        try:
            yield folder
        finally:
            subprocess.run([chattr, "-i", str(folder)], check=True)
        return
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("root on a filesystem without chattr +i: no unwritable folder")
        yield folder
    finally:
        folder.chmod(0o755)


def test_creates_the_folder_and_leaves_no_probe(tmp_path):
    out = writable_folder(tmp_path / "a" / "b", "--out")
    assert out == tmp_path / "a" / "b" and out.is_dir() and list(out.iterdir()) == []
    assert writable_folder(str(out), "--out") == out  # an existing empty folder is fine


def test_a_file_or_a_path_under_a_file(tmp_path):
    (tmp_path / "f").write_text("a file")
    with pytest.raises(RayganError, match=f"--out {tmp_path / 'f'} is a file, not a folder"):
        writable_folder(tmp_path / "f", "--out")
    with pytest.raises(RayganError) as exc:
        writable_folder(tmp_path / "f" / "sub", "--out")
    assert f"--out {tmp_path / 'f' / 'sub'}: {tmp_path / 'f'} is a file, not a folder" \
        in str(exc.value)
    assert (tmp_path / "f").read_text() == "a file"


@pytest.mark.parametrize("path", ["/proc/raygan-out", "/proc/sys", "/sys/raygan-out"])
def test_kernel_filesystems_are_refused(path):
    if not Path(path).parent.exists():
        pytest.skip(f"no {Path(path).parent} here")
    existed = Path(path).exists()
    with pytest.raises(RayganError, match="is not writable: it is on .* a kernel filesystem"):
        writable_folder(path, "--out")
    assert Path(path).exists() == existed


def test_unwritable_folder_and_a_path_under_it(tmp_path):
    with unwritable_folder(tmp_path) as ro:
        with pytest.raises(RayganError, match=f"--out {ro} is not writable"):
            writable_folder(ro, "--out")
        with pytest.raises(RayganError, match=f"--out {ro / 'sub'}: {ro} is not writable"):
            writable_folder(ro / "sub", "--out")
        assert list(ro.iterdir()) == []
