"""Train / validation / test splits by sequence, never by frame.

Introduced in ``notebooks/01_dataset_preparation.ipynb``.

Neighbouring frames of a recording are near-duplicates, so a split by frame leaks the
test set into training. Each reader sets ``HandSample.sequence`` to its data set's unit
of motion: a GANerated partition, a SynthHands motion ``{sex_object}/seqNN`` (all its
cameras and chunks together), a RealHands user.

This is for the real data sets. A rendered set has one "sequence" per 1,024-frame
partition and its frames are independent draws, so rendered data is validated and
tested on *separately seeded* sets instead (``make_dataset(..., seed=1)``).
"""
from __future__ import annotations

import hashlib

from handlib.samples import HandSample


def split_by_sequence(samples: list[HandSample], val_fraction: float = 0.1,
                      test_fraction: float = 0.1, seed: int = 0):
    """Split samples into (train, val, test) by whole sequences.

    Each sequence goes to one split, chosen by a hash of its name and ``seed`` (stable
    across runs and machines); with three or more sequences, each non-zero fraction gets
    at least one.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) with a sum below 1")
    seqs = sorted({s.sequence for s in samples})

    def key(name):
        return int(hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()[:8], 16)
    order = sorted(seqs, key=key)
    n = len(order)
    n_test = int(round(test_fraction * n))
    n_val = int(round(val_fraction * n))
    if n >= 3:
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
    test = set(order[:n_test])
    val = set(order[n_test:n_test + n_val])
    split = {"train": [], "val": [], "test": []}
    for s in samples:
        split["test" if s.sequence in test else "val" if s.sequence in val else "train"].append(s)
    return split["train"], split["val"], split["test"]
