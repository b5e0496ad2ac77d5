import json

import numpy as np
import pytest

from microexpr._io import (
    atomic_torch_save,
    atomic_write,
    atomic_write_json,
    atomic_write_npz,
    atomic_write_text,
)


def test_atomic_writes_create_folders_and_leave_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "a" / "t.txt", "héllo")
    atomic_write_json(tmp_path / "a" / "j.json", {"x": [1, 2]})
    atomic_write_npz(tmp_path / "a" / "n.npz", {"u": np.arange(3)})
    assert (tmp_path / "a" / "t.txt").read_text(encoding="utf-8") == "héllo"
    assert json.loads((tmp_path / "a" / "j.json").read_text()) == {"x": [1, 2]}
    with np.load(tmp_path / "a" / "n.npz") as data:
        np.testing.assert_array_equal(data["u"], np.arange(3))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["j.json", "n.npz", "t.txt"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = atomic_write_text(tmp_path / "r.txt", "old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(path, fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_atomic_torch_save_round_trips(tmp_path):
    torch = pytest.importorskip("torch")
    atomic_torch_save(tmp_path / "m.pt", {"w": torch.ones(2)})
    assert torch.load(tmp_path / "m.pt")["w"].tolist() == [1.0, 1.0]
