"""Bach chorales from the music21 corpus as 88-key piano rolls, split by piece and cached.

Source
    The chorales listed by ``music21.corpus.chorales.Iterator()`` (371 names
    in the Riemenschneider numbering), read from the corpus inside the
    installed ``music21`` package; nothing is downloaded. Several names are
    listed more than once, so the names are resolved to files and the files
    deduplicated by their resolved path before anything else (350 files with
    music21 10.5). A name that matches several files (``bwv277.krn`` and
    ``bwv277.mxl``; ``bwv112.5.mxl`` and ``bwv112.5-sc.mxl``) resolves to the
    file whose stem is the name, MusicXML first, else to music21's first match.

Frame rule
    Frame ``k`` is the quarter note ``[k, k+1)`` counted from the start of
    the score, and key ``n`` (MIDI note ``n + 21``, so 21..108) is on in frame
    ``k`` when a note of that pitch *sounds at the frame's onset*: its onset
    ``o`` and quarter length ``d`` satisfy ``o <= k < o + d``. A note held
    across several frame boundaries is therefore on in every frame whose onset
    it covers, tied notes need no merging (each tied piece covers its own
    span), notes that start and end between two onsets (passing eighths,
    grace notes) are not seen, and rests give empty frames. A piece of
    ``L`` quarter notes has ``ceil(L)`` frames. The rolls are binary: a key
    struck again is indistinguishable from a key held.

Parts
    All pitched notes (notes and every pitch of a chord) of *all* parts are
    used, so the few scores with instrument parts, a fifth voice or unnamed
    parts contribute those notes too: a doubling at the unison adds nothing,
    an independent or octave-doubling part adds keys. Unpitched percussion is
    skipped; pitches outside MIDI 21..108 are dropped with a logged warning.

Split
    Pieces are split, never frames: the deduplicated files are sorted by
    identifier (the path inside the corpus, e.g. ``"bach/bwv267.mxl"``),
    shuffled with ``numpy.random.default_rng(seed).permutation`` and cut into
    the first ``round(0.6 n)`` (train), the next ``round(0.2 n)`` (valid) and
    the rest (test). Within each split the pieces are listed in identifier order.

Cache
    Parsing takes about a minute, so the rolls of all pieces are built once
    and stored as one ``.npz`` (one concatenated uint8 array plus lengths and
    identifiers, no pickles) in :func:`~tensortrain.data._cache.default_cache_dir`.
    The file records a format version, the frame rule, ``limit`` and the
    music21 version; when any of them differs, or the file cannot be read
    or holds unexpected arrays, it is rebuilt. The split is not cached: it is
    recomputed from ``seed`` on every load, so changing the seed costs nothing.

Limitations
    Some corpus items are licensed for non-commercial use only: the arrays
    are built on the user's machine and must not be redistributed. The
    published JSB Chorales split (229/76/77 pieces) cannot be rebuilt from
    music21, so numbers on this split are not comparable with published JSB
    results. Repeats are not expanded. One chorale (``bwv248.23-2``) is in
    12/8, where quarter-note frames do not fall on the dotted-quarter beat.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ._cache import read_npz, resolve_cache_dir, write_npz_atomic

__all__ = [
    "ChoraleSplits",
    "FRAME_RULE",
    "LOWEST_MIDI",
    "NUM_KEYS",
    "chorale_files",
    "load_chorales",
    "piano_roll",
    "split_pieces",
]

logger = logging.getLogger(__name__)

NUM_KEYS = 88
LOWEST_MIDI = 21
FRAME_RULE = "quarter-note frames, key on if sounding at frame onset, all parts"
CACHE_FORMAT_VERSION = 1
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
_MUSICXML_SUFFIXES = (".mxl", ".xml", ".musicxml")
_CACHE_KEYS = {"format_version", "frame_rule", "limit", "music21_version",
               "rolls", "lengths", "piece_ids"}

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ChoraleSplits:
    """The chorales split by piece, as binary piano rolls.

    Attributes
    ----------
    train, valid, test : list of numpy.ndarray
        uint8 arrays of shape (T_i, 88) with values 0/1; column ``n`` is MIDI
        note ``n + 21``.
    train_ids, valid_ids, test_ids : list of str
        The identifier of each piece, in the same order (corpus path, such as
        ``"bach/bwv267.mxl"``).
    seed : int
        The seed the split was drawn with.
    music21_version : str
        Version of the music21 package the rolls were built from.
    cache_path : pathlib.Path
        The cache file read or written.
    from_cache : bool
        True when the rolls were read from the cache, False when just built.
    """

    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]
    train_ids: list[str]
    valid_ids: list[str]
    test_ids: list[str]
    seed: int
    music21_version: str
    cache_path: Path
    from_cache: bool


# --------------------------------------------------------------------------- corpus

def _import_music21():
    """Import music21, or explain how to install it."""
    try:
        import music21
    except ImportError as error:
        raise ImportError(
            'the Bach chorales need the optional package music21; '
            'pip install "tensortrain[data]" brings it'
        ) from error
    return music21


def _resolve_name(corpus, name: str) -> Path:
    """Return the one file a chorale name stands for (see the module docstring)."""
    found = corpus.getWork(name)
    if not isinstance(found, list):
        return Path(found)
    stem = name.rsplit("/", 1)[-1]
    exact = [Path(path) for path in found if Path(path).stem == stem]
    musicxml = [path for path in exact if path.suffix in _MUSICXML_SUFFIXES]
    return (musicxml or exact or [Path(found[0])])[0]


def _piece_id(path: Path, corpus_root: Path) -> str:
    """Name a piece by its path inside the corpus, or by its full path outside it."""
    try:
        return path.relative_to(corpus_root).as_posix()
    except ValueError:
        return path.as_posix()


def _unique_files(paths: Sequence[str | os.PathLike],
                 corpus_root: Path) -> list[tuple[str, Path]]:
    """Deduplicate files by resolved path; return (identifier, path) sorted by identifier."""
    resolved = {Path(path).resolve() for path in paths}
    pieces = [(_piece_id(path, corpus_root), path) for path in resolved]
    return sorted(pieces)


def chorale_files(names: Sequence[str] | None = None) -> list[tuple[str, Path]]:
    """List the distinct chorale files of the music21 corpus.

    Parameters
    ----------
    names : sequence of str, optional
        Corpus names such as ``"bach/bwv267"``; by default all names of
        ``music21.corpus.chorales.Iterator()``.

    Returns
    -------
    list of (str, pathlib.Path)
        One (identifier, resolved path) per distinct file, sorted by
        identifier; names resolving to the same file give one entry.

    Raises
    ------
    ImportError
        If music21 is not installed.
    """
    music21 = _import_music21()
    corpus = music21.corpus
    if names is None:
        names = list(corpus.chorales.Iterator(returnType="filename"))
    root = Path(music21.common.getCorpusFilePath()).resolve()
    return _unique_files([_resolve_name(corpus, name) for name in names], root)


def piano_roll(score) -> np.ndarray:
    """Turn a music21 stream into a binary piano roll at quarter-note frames.

    Parameters
    ----------
    score : music21.stream.Stream
        A parsed score; all its parts are used (see the module docstring for
        the frame rule).

    Returns
    -------
    numpy.ndarray
        uint8 of shape (ceil(length in quarter notes), 88); entry ``[k, n]``
        is 1 when MIDI note ``n + 21`` sounds at quarter-note offset ``k``.
    """
    num_frames = math.ceil(score.highestTime)
    roll = np.zeros((num_frames, NUM_KEYS), dtype=np.uint8)
    for element in score.flatten().notes:
        # Frames k with onset <= k < onset + length, in exact arithmetic.
        first = math.ceil(element.offset)
        stop = min(math.ceil(element.offset + element.quarterLength), num_frames)
        if stop <= first:
            continue
        for pitch in element.pitches:
            key = pitch.midi - LOWEST_MIDI
            if not 0 <= key < NUM_KEYS:
                logger.warning("dropping %s (MIDI %d) outside the 88 keys",
                               pitch.nameWithOctave, pitch.midi)
                continue
            roll[first:stop, key] = 1
    return roll


def _build_rolls(limit: int | None,
                 progress: ProgressCallback | None) -> tuple[list[str], list[np.ndarray]]:
    """Parse the (first ``limit``) distinct chorale files into piano rolls."""
    converter = _import_music21().converter
    pieces = chorale_files()
    if limit is not None:
        pieces = pieces[:limit]
    total = len(pieces)
    if progress is not None:
        progress(0, total)

    rolls = []
    for done, (piece_id, path) in enumerate(pieces, start=1):
        logger.debug("parsing %s", piece_id)
        rolls.append(piano_roll(converter.parse(path)))
        if progress is not None:
            progress(done, total)
    return [piece_id for piece_id, _ in pieces], rolls


# --------------------------------------------------------------------------- split

def split_pieces(num_pieces: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the seeded 60/20/20 split of ``num_pieces`` pieces.

    Parameters
    ----------
    num_pieces : int
        How many pieces, in their sorted order.
    seed : int
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    train, valid, test : numpy.ndarray
        Sorted int64 index arrays; disjoint, together ``0..num_pieces-1``,
        of sizes ``round(0.6 n)``, ``round(0.2 n)`` and the rest (halves
        round up). Small ``n`` can leave valid or test empty.
    """
    order = np.random.default_rng(seed).permutation(num_pieces)
    num_train = math.floor(SPLIT_FRACTIONS[0] * num_pieces + 0.5)
    num_valid = math.floor(SPLIT_FRACTIONS[1] * num_pieces + 0.5)
    cuts = np.split(order, [num_train, num_train + num_valid])
    return tuple(np.sort(part).astype(np.int64) for part in cuts)


# --------------------------------------------------------------------------- cache

def _cache_parameters(limit: int | None, music21_version: str) -> dict[str, object]:
    """Return what a cache file must record to be reused."""
    return {
        "format_version": CACHE_FORMAT_VERSION,
        "frame_rule": FRAME_RULE,
        "limit": -1 if limit is None else limit,
        "music21_version": music21_version,
    }


def _cache_name(limit: int | None) -> str:
    """File name of the cache; a limited build never overwrites the full one."""
    return "bach_chorales.npz" if limit is None else f"bach_chorales_first{limit}.npz"


def _pack(piece_ids: list[str], rolls: list[np.ndarray],
          parameters: dict[str, object]) -> dict[str, np.ndarray]:
    """Lay ragged rolls out as one concatenated array plus lengths and identifiers."""
    arrays = {key: np.asarray(value) for key, value in parameters.items()}
    arrays["rolls"] = (np.concatenate(rolls, axis=0) if rolls
                       else np.zeros((0, NUM_KEYS), np.uint8)).astype(np.uint8)
    arrays["lengths"] = np.array([len(roll) for roll in rolls], dtype=np.int64)
    arrays["piece_ids"] = np.array(piece_ids, dtype=str)
    return arrays


def _validate_cache(arrays: dict[str, np.ndarray], expected: dict[str, object]) -> None:
    """Raise ValueError unless ``arrays`` is a complete cache built with ``expected``."""
    if set(arrays) != _CACHE_KEYS:
        raise ValueError(f"keys must be {sorted(_CACHE_KEYS)}, got {sorted(arrays)}")
    for key, value in expected.items():
        if arrays[key].shape != () or arrays[key].item() != value:
            raise ValueError(f"{key} must be {value!r}, got {arrays[key]!r}")

    rolls, lengths, piece_ids = arrays["rolls"], arrays["lengths"], arrays["piece_ids"]
    if rolls.dtype != np.uint8 or rolls.ndim != 2 or rolls.shape[1] != NUM_KEYS:
        raise ValueError(f"rolls must be uint8 (frames, {NUM_KEYS}), "
                         f"got {rolls.dtype} {rolls.shape}")
    if rolls.size and rolls.max() > 1:
        raise ValueError(f"rolls must hold only 0 and 1, got a {rolls.max()}")
    if lengths.dtype != np.int64 or lengths.ndim != 1 or np.any(lengths < 0):
        raise ValueError(f"lengths must be non-negative int64 (pieces,), "
                         f"got {lengths.dtype} {lengths.shape}")
    if int(lengths.sum()) != rolls.shape[0]:
        raise ValueError(f"lengths must add up to {rolls.shape[0]} frames, "
                         f"got {int(lengths.sum())}")
    if piece_ids.dtype.kind != "U" or piece_ids.shape != lengths.shape:
        raise ValueError(f"piece_ids must be strings of shape {lengths.shape}, "
                         f"got {piece_ids.dtype} {piece_ids.shape}")


def _unpack(arrays: dict[str, np.ndarray]) -> tuple[list[str], list[np.ndarray]]:
    """Undo :func:`_pack`: split the concatenated rolls at the stored lengths."""
    bounds = np.cumsum(arrays["lengths"])[:-1]
    rolls = np.split(arrays["rolls"], bounds) if len(arrays["lengths"]) else []
    return [str(piece_id) for piece_id in arrays["piece_ids"]], rolls


# --------------------------------------------------------------------------- loading

def _check_load_arguments(seed, progress, limit) -> None:
    """Raise TypeError / ValueError naming the first bad argument of load_chorales."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(done, total) or None, "
                        f"got {type(progress).__name__}")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
            raise TypeError(f"limit must be a positive integer or None, got {limit!r}")
        if limit < 1:
            raise ValueError(f"limit must be a positive integer or None, got {limit}")


def load_chorales(
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    rebuild: bool = False,
    limit: int | None = None,
) -> ChoraleSplits:
    """Load the Bach chorales as piano rolls, split 60/20/20 by piece.

    The rolls are built from the music21 corpus on first use (about a minute
    on two cores) and read from a small cache file afterwards (well under a
    second). See the module docstring for the frame rule, the split and the
    cache rules.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Folder of the cache file; by default ``$TENSORTRAIN_CACHE``, else
        ``$XDG_CACHE_HOME/tensortrain``, else ``~/.cache/tensortrain``.
    seed : int
        Seed of the split by piece. The cache does not depend on it.
    progress : callable, optional
        Called as ``progress(done, total)`` with the number of files parsed,
        from ``(0, total)`` to ``(total, total)``, only when building.
    rebuild : bool
        Build anew even when a valid cache exists.
    limit : int, optional
        Build from the first ``limit`` distinct files only (in identifier
        order), cached in a file of its own; meant for tests.

    Returns
    -------
    ChoraleSplits
        The train, valid and test rolls and their identifiers.

    Raises
    ------
    ImportError
        If music21 is not installed.
    TypeError, ValueError
        If an argument has the wrong type or value.
    """
    _check_load_arguments(seed, progress, limit)
    music21 = _import_music21()
    parameters = _cache_parameters(limit, music21.__version__)
    cache_path = resolve_cache_dir(cache_dir) / _cache_name(limit)

    arrays = None
    if not rebuild:
        arrays = read_npz(cache_path, partial(_validate_cache, expected=parameters))
    from_cache = arrays is not None
    if arrays is None:
        arrays = _pack(*_build_rolls(limit, progress), parameters)
        _store(cache_path, arrays)

    piece_ids, rolls = _unpack(arrays)
    parts = split_pieces(len(piece_ids), int(seed))
    return ChoraleSplits(
        *([rolls[i] for i in part] for part in parts),
        *([piece_ids[i] for i in part] for part in parts),
        seed=int(seed), music21_version=music21.__version__,
        cache_path=cache_path, from_cache=from_cache,
    )


def _store(cache_path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache; a folder that cannot be written costs speed, not the data."""
    try:
        write_npz_atomic(cache_path, arrays)
    except OSError as error:
        logger.warning("could not write the chorale cache %s (%s); "
                       "it will be built again next time", cache_path, error)
