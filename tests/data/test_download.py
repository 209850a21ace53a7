import io
import tarfile
import zipfile

import pytest

from sslab.data import download
from sslab.errors import UserError
from sslab_testing import make_nested_link_escape


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as tf:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = b"hello"
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE
                info.linkname = target
                tf.addfile(info)


def test_safe_extract_keeps_good_archives(tmp_path):
    make_tar(tmp_path / "a.tar.gz", [("d/x.txt", "file", None), ("./d/y.txt", "file", None)])
    download.safe_extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert (tmp_path / "out" / "d" / "x.txt").read_bytes() == b"hello"
    assert (tmp_path / "out" / "d" / "y.txt").read_bytes() == b"hello"


def test_safe_extract_refuses_every_link_even_one_pointing_inside(tmp_path):
    make_tar(tmp_path / "a.tar.gz", [("d/x.txt", "file", None), ("d/link", "sym", "x.txt")])
    with pytest.raises(UserError, match="is a link"):
        download.safe_extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert not (tmp_path / "out" / "d").exists()


def test_safe_extract_refuses_the_nested_symlink_path_max_escape(tmp_path):
    make_nested_link_escape(tmp_path / "a.tar")
    with pytest.raises(UserError, match="is a link; .* refusing to extract"):
        download.safe_extract(tmp_path / "a.tar", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar", "out"]
    assert not any((tmp_path / "out").iterdir())


def test_safe_extract_refuses_hardlinks_devices_and_fifos(tmp_path):
    for kind in (tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE):
        with tarfile.open(tmp_path / "a.tar", "w") as tf:
            info = tarfile.TarInfo("x")
            info.type, info.linkname = kind, "y"
            tf.addfile(info)
        with pytest.raises(UserError, match="refusing to extract"):
            download.safe_extract(tmp_path / "a.tar", tmp_path / "out")
        assert not (tmp_path / "out" / "x").exists()


def test_safe_extract_refuses_a_folder_that_is_a_link_on_disk(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "d").symlink_to(tmp_path / "elsewhere")
    make_tar(tmp_path / "a.tar.gz", [("d/x.txt", "file", None)])
    with pytest.raises(UserError, match="passes through the link"):
        download.safe_extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert not (tmp_path / "elsewhere" / "x.txt").exists()


@pytest.mark.parametrize("members", [
    [("../evil.txt", "file", None)],
    [("/tmp/evil.txt", "file", None)],
    [("d/link", "sym", "../../etc/passwd")],
])
def test_safe_extract_refuses_escapes(tmp_path, members):
    make_tar(tmp_path / "a.tar.gz", members)
    with pytest.raises(UserError, match="refusing to extract"):
        download.safe_extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.txt"))


def test_safe_extract_refuses_zip_escape(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(UserError, match="refusing to extract"):
        download.safe_extract(tmp_path / "a.zip", tmp_path / "out")


def test_offline_download_says_how_to_use_a_local_copy(tmp_path, monkeypatch):
    spec = download.DATASETS["cifar10"]
    monkeypatch.setitem(download.DATASETS, "cifar10", download.Download(
        spec.name, "http://127.0.0.1:9/cifar.tar.gz", spec.md5, spec.filename, spec.extracted, spec.use_with))
    with pytest.raises(UserError, match="point --data at the folder"):
        download.download("cifar10", tmp_path)
    assert not list(tmp_path.glob("*.part"))


def test_checksum_mismatch_deletes_the_file(tmp_path, monkeypatch):
    spec = download.DATASETS["cifar10"]
    (tmp_path / spec.filename).write_bytes(b"not the archive")
    monkeypatch.setattr(download, "fetch", lambda url, dest: dest.write_bytes(b"still not it"))
    with pytest.raises(UserError, match="does not match the official"):
        download.download("cifar10", tmp_path)
    assert not (tmp_path / spec.filename).exists()


def test_official_urls_and_checksums():
    assert download.DATASETS["cifar10"].url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert download.DATASETS["cifar10"].md5 == "c58f30108f718f92721af3b95e74349a"


def test_safe_extract_keeps_a_zip_without_file_type_bits(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("d/x.txt", "hello")  # writestr stores 0o600 with no file-type bits
    download.safe_extract(tmp_path / "a.zip", tmp_path / "out")
    assert (tmp_path / "out" / "d" / "x.txt").read_text() == "hello"
