"""Tests of tensortrain.nn.save / load: exact round trips, refusals that change nothing."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from tensortrain import nn


def _model(seed=0):
    return nn.Sequential(
        nn.TTLinear((2, 3), (2, 2), 2, rng=seed, dtype=np.float64),
        nn.Tanh(),
        nn.Linear(4, 3, rng=seed + 1),
    )


def _trained(seed=0):
    model = _model(seed)
    optimizer = nn.Adam(model, lr=0.01)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        optimizer.zero_grad()
        y = model(rng.standard_normal((4, 6)))
        model.backward(np.ones_like(y))
        optimizer.step()
    return model, optimizer


def _snapshot(model):
    return {name: np.array(p.value) for name, p in model.named_parameters().items()}


def _assert_unchanged(model, snapshot):
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.value, snapshot[name])


@pytest.fixture
def checkpoint(tmp_path):
    model, optimizer = _trained()
    path = tmp_path / "model.npz"
    nn.save(path, model, optimizer, extra={"epoch": 3, "best_nll": 7.25, "tag": "tt-gru"})
    return path, model, optimizer


def test_round_trip_restores_parameters_and_adam_state_exactly(checkpoint):
    path, model, optimizer = checkpoint
    fresh = _model(seed=5)
    fresh_optimizer = nn.Adam(fresh, lr=0.01)
    extra = nn.load(path, fresh, fresh_optimizer)
    assert extra == {"epoch": 3, "best_nll": 7.25, "tag": "tt-gru"}
    for name, p in fresh.named_parameters().items():
        original = model.named_parameters()[name].value
        np.testing.assert_array_equal(p.value, original)
        assert p.value.dtype == original.dtype
    saved, loaded = optimizer.state_dict(), fresh_optimizer.state_dict()
    assert saved.keys() == loaded.keys()
    for key in saved:
        np.testing.assert_array_equal(saved[key], loaded[key])


def test_the_file_needs_no_pickle(checkpoint):
    path, model, _ = checkpoint
    with np.load(path, allow_pickle=False) as archive:
        assert all(not archive[name].dtype.hasobject for name in archive.files)
        assert str(archive["__format__"]) == nn.serialize.FORMAT
        assert f"param/{next(iter(model.named_parameters()))}" in archive.files


def test_save_writes_atomically_and_leaves_no_temporary_file(checkpoint):
    path, model, _ = checkpoint
    nn.save(path, model)  # replaces the existing file
    assert sorted(os.listdir(path.parent)) == ["model.npz"]
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"extra\['bad'\] must be numeric"):
        nn.save(path, model, extra={"bad": object()})
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == ["model.npz"]


def test_a_truncated_file_is_refused_and_the_model_is_unchanged(checkpoint, tmp_path):
    path, _, _ = checkpoint
    data = path.read_bytes()
    target = _model(seed=9)
    snapshot = _snapshot(target)
    for cut in (len(data) // 3, len(data) - 30):
        truncated = tmp_path / f"cut{cut}.npz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a readable checkpoint"):
            nn.load(truncated, target)
        _assert_unchanged(target, snapshot)


def _rewrite(path, drop=(), replace=None):
    with np.load(path, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files if name not in drop}
    entries.update(replace or {})
    np.savez(path, **entries)


def test_a_missing_parameter_is_refused_by_name(checkpoint):
    path, _, _ = checkpoint
    _rewrite(path, drop=("param/layers.0.core1",))
    target = _model(seed=9)
    snapshot = _snapshot(target)
    with pytest.raises(ValueError, match=r"lacks parameters the model has: \['layers.0.core1'\]"):
        nn.load(path, target)
    _assert_unchanged(target, snapshot)


def test_a_wrong_shape_is_refused_by_name(checkpoint):
    path, _, _ = checkpoint
    _rewrite(path, replace={"param/layers.2.weight": np.zeros((3, 5))})
    target = _model(seed=9)
    snapshot = _snapshot(target)
    message = r"'layers.2.weight' must have shape \(3, 4\), got \(3, 5\)"
    with pytest.raises(ValueError, match=message):
        nn.load(path, target)
    _assert_unchanged(target, snapshot)


def test_an_unexpected_parameter_is_refused(checkpoint):
    path, _, _ = checkpoint
    _rewrite(path, replace={"param/layers.9.bias": np.zeros(2)})
    with pytest.raises(ValueError, match="parameters the model does not have"):
        nn.load(path, _model())


@pytest.mark.parametrize("kind", ["foreign npz", "npy", "garbage"])
def test_files_that_are_not_checkpoints_are_refused(tmp_path, kind):
    path = tmp_path / "other.npz"
    if kind == "foreign npz":
        np.savez(path, weights=np.ones(3))
    elif kind == "npy":
        np.save(tmp_path / "other.npy", np.ones(3))
        os.replace(tmp_path / "other.npy", path)
    else:
        path.write_bytes(b"definitely not a zip file" * 10)
    target = _model()
    snapshot = _snapshot(target)
    with pytest.raises(ValueError, match="not a (readable|tensortrain) checkpoint"):
        nn.load(path, target)
    _assert_unchanged(target, snapshot)


def test_optimizer_state_that_does_not_fit_leaves_model_and_optimizer_unchanged(checkpoint):
    path, _, _ = checkpoint
    _rewrite(path, replace={"optimizer/exp_avg.layers.0.core0": np.zeros(7)})
    target, target_optimizer = _trained(seed=4)
    snapshot = _snapshot(target)
    state = {k: np.array(v) for k, v in target_optimizer.state_dict().items()}
    with pytest.raises(ValueError, match="must have shape"):
        nn.load(path, target, target_optimizer)
    _assert_unchanged(target, snapshot)
    for key, value in target_optimizer.state_dict().items():
        np.testing.assert_array_equal(value, state[key])


def test_loading_needs_the_optimizer_class_that_was_saved(checkpoint):
    path, _, _ = checkpoint
    target = _model()
    with pytest.raises(ValueError, match="state of a Adam optimizer, got a SGD"):
        nn.load(path, target, nn.SGD(target, lr=0.1))
    nn.save(path, target)
    with pytest.raises(ValueError, match="holds no optimizer state"):
        nn.load(path, target, nn.Adam(target))


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "absent.npz", _model())


def test_the_archive_is_a_plain_zip_of_npy_members(checkpoint):
    path, _, _ = checkpoint
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())


def test_extra_lists_mixing_strings_and_numbers_are_refused(tmp_path):
    """NumPy would store ``[1, "x"]`` as two strings; saving it is refused instead."""
    model = nn.Linear(2, 3, rng=0)
    with pytest.raises(TypeError, match=r"mixes strings with \['int'\]"):
        nn.save(tmp_path / "mixed.npz", model, extra={"a": [1, "x"]})
    assert not (tmp_path / "mixed.npz").exists()
