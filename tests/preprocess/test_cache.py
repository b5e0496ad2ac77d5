import cv2
import numpy as np
import pytest

from microexpr.preprocess import pipeline
from microexpr.preprocess.cache import FeatureCache, settings_key, source_fingerprint
from microexpr.preprocess.pipeline import PreprocessSettings, preprocess_records


@pytest.fixture
def computed(monkeypatch):
    """Clip keys whose features were computed (not served by the cache)."""
    keys = []
    compute = pipeline.preprocess_clip

    def counting(record, settings, detector=None):
        keys.append(record.key)
        return compute(record, settings, detector)

    monkeypatch.setattr(pipeline, "preprocess_clip", counting)
    return keys


def _run(records, cache, **settings):
    return preprocess_records(records, PreprocessSettings(**settings), cache_dir=cache,
                              progress=False)  # fmt: skip


def test_cache_serves_an_unchanged_clip(tmp_path, astronaut_gray, shifted, write_clip, computed):
    rec = write_clip("c1", astronaut_gray, shifted(astronaut_gray, 0.3, 0.0))
    first = _run([rec], tmp_path / "cache")
    second = _run([rec], tmp_path / "cache")
    assert computed == ["toy/s1/c1"]
    np.testing.assert_array_equal(first.inputs("uvs"), second.inputs("uvs"))


def test_cache_recomputes_a_clip_whose_frame_changed(
    tmp_path, astronaut_gray, shifted, write_clip, computed
):
    rec = write_clip("c1", astronaut_gray, shifted(astronaut_gray, 0.3, 0.0))
    first = _run([rec], tmp_path / "cache")
    # the dataset is re-rendered under the same names: another apex, same file
    cv2.imwrite(str(rec.frames[2]), shifted(astronaut_gray, 0.0, 0.6))
    second = _run([rec], tmp_path / "cache")
    assert computed == ["toy/s1/c1", "toy/s1/c1"]
    assert not np.allclose(first.inputs("uvs"), second.inputs("uvs"))
    third = _run([rec], tmp_path / "cache")
    assert len(computed) == 2
    np.testing.assert_array_equal(second.inputs("uvs"), third.inputs("uvs"))


def test_cache_recomputes_a_clip_whose_apex_index_changed(
    tmp_path, astronaut_gray, shifted, write_clip, computed
):
    rec = write_clip("c1", astronaut_gray, shifted(astronaut_gray, 0.3, 0.0))
    cv2.imwrite(str(rec.frames[1].with_name("img3.png")), shifted(astronaut_gray, 0.0, 0.6))
    rec.frames[3] = rec.frames[1].with_name("img3.png")
    _run([rec], tmp_path / "cache")
    # a corrected coding sheet says the apex is frame 3
    rec.apex = rec.offset = 3
    corrected = _run([rec], tmp_path / "cache")
    assert computed == ["toy/s1/c1", "toy/s1/c1"]
    assert np.median(corrected.features[0]["v"]) > 0.3


def test_cache_is_keyed_by_settings(tmp_path, astronaut_gray, shifted, write_clip, computed):
    rec = write_clip("c1", astronaut_gray, shifted(astronaut_gray, 0.3, 0.0))
    _run([rec], tmp_path / "cache")
    other = _run([rec], tmp_path / "cache", size=64)
    assert computed == ["toy/s1/c1", "toy/s1/c1"]
    assert other.inputs("uvs").shape == (1, 3, 64, 64)
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 2


def test_cache_entry_with_another_fingerprint_is_stale(tmp_path):
    cache = FeatureCache(tmp_path, {"a": 1})
    cache.save("d/s/c", {"u": np.ones((4, 4), np.float32)}, "abc")
    assert cache.load("d/s/c", "abc")["u"].shape == (4, 4)
    assert set(cache.load("d/s/c", "abc")) == {"u"}
    assert cache.load("d/s/c", "abd") is None
    cache.save("d/s/c", {"u": np.ones((4, 4), np.float32)})
    assert cache.load("d/s/c", "abc") is None


def test_cache_files_are_complete_or_absent(tmp_path):
    cache = FeatureCache(tmp_path, {"a": 1})
    cache.save("d/s/c", {"u": np.ones((4, 4), np.float32)})
    assert not list(cache.folder.rglob("*.tmp"))
    cache.path("d/s/c").write_bytes(b"truncated")
    assert cache.load("d/s/c") is None


def test_source_fingerprint_depends_on_content_and_numbers_not_on_times(tmp_path):
    onset, apex = tmp_path / "a.png", tmp_path / "b.png"
    onset.write_bytes(b"one")
    apex.write_bytes(b"two")
    base = source_fingerprint({"onset": (1, onset), "apex": (2, apex)})
    assert source_fingerprint({"onset": (1, onset), "apex": (3, apex)}) != base
    import os

    os.utime(apex, ns=(1, 1))
    assert source_fingerprint({"onset": (1, onset), "apex": (2, apex)}) == base
    apex.write_bytes(b"twO")
    assert source_fingerprint({"onset": (1, onset), "apex": (2, apex)}) != base
    assert source_fingerprint({"onset": (1, tmp_path / "gone.png")}) is None


def test_settings_key_is_stable_and_order_free():
    assert settings_key({"a": 1, "b": [2]}) == settings_key({"b": [2], "a": 1})
    assert settings_key({"a": 1}) != settings_key({"a": 2})
    assert len(settings_key({})) == 16
