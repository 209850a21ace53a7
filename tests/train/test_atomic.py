import json

from sslab.train import atomic


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "x.json"
    atomic.write_json(path, {"a": 1})
    atomic.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / "x.txt"
    atomic.write_text(path, "old")
    try:
        with atomic.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_new_folder_appears_only_when_complete(tmp_path):
    import pytest

    from sslab.errors import UserError

    target = tmp_path / "set"
    with atomic.new_folder(target) as tmp:
        (tmp / "a").mkdir()
        (tmp / "a" / "x.wav").write_bytes(b"1")
        assert not target.exists()  # a reader never sees a half-built folder
    assert (target / "a" / "x.wav").read_bytes() == b"1"
    assert [p.name for p in tmp_path.iterdir()] == ["set"]
    # An empty folder is taken; a full one or a file is refused in one line.
    (tmp_path / "empty").mkdir()
    with atomic.new_folder(tmp_path / "empty") as tmp:
        (tmp / "y").write_text("y")
    assert (tmp_path / "empty" / "y").is_file()
    with pytest.raises(UserError, match="not empty"):
        with atomic.new_folder(target):
            pass
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="is a file"):
        atomic.require_new_folder(tmp_path / "file")
    # A failure midway leaves nothing behind.
    with pytest.raises(RuntimeError):
        with atomic.new_folder(tmp_path / "failed") as tmp:
            (tmp / "z").write_text("half")
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file", "set"]


def test_read_json_round_trips_and_names_a_damaged_file(tmp_path):
    import pytest

    from sslab.errors import UserError

    path = tmp_path / "x.json"
    atomic.write_json(path, {"a": [1, 2]})
    assert atomic.read_json(path) == {"a": [1, 2]}
    path.write_text('{"a": [1,')  # half a file, as no atomic write leaves one
    with pytest.raises(UserError, match=r"x.json is unreadable \(.*\); re-run it"):
        atomic.read_json(path, "re-run it")
    with pytest.raises(UserError, match="missing.json is unreadable"):
        atomic.read_json(tmp_path / "missing.json")
