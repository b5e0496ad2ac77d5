"""Emotion to class mappings, and the official MEGC2019 clip list.

Every database codes an "estimated emotion" per clip with its own vocabulary;
the paper's and MEGC2019's protocols reduce them to three classes
(negative, positive, surprise) and drop the rest. The mapping of each
database follows the paper's table (SPEC section 3):

========  ===========================================  ==========  ========  =================
dataset   negative                                     positive    surprise  dropped
========  ===========================================  ==========  ========  =================
casme     disgust, repression, sadness                 happiness   surprise  contempt, fear,
                                                                             tense
casme2    disgust, repression                          happiness   surprise  fear, others,
                                                                             sadness
samm      anger, contempt, disgust, fear, sadness      happiness   surprise  other
smic      negative                                     positive    surprise
casme3a   anger, disgust, fear, sad                    happy       surprise  others
========  ===========================================  ==========  ========  =================

CAS(ME)^3 is not in the paper; its mapping is the one MEGC2022/2023 used for
their three-class tasks. A few spelling variants are accepted (``amusement``
for CASME's happiness, ``others``/``other``, ``sad``/``sadness``).

The MEGC2019 challenge published its clip list (dataset, subject, clip,
label); it ships as ``megc2019_clips.csv`` beside this module and is read by
:func:`official_clips`. It is protocol metadata, not data: a list of
identifiers and labels.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

from microexpr._validation import check_choice
from microexpr.data.records import CLASS_NAMES

__all__ = ["EMOTION_MAPPINGS", "emotion_mapping", "official_clips"]

_NEG, _POS, _SUR = CLASS_NAMES

#: Lowercase emotion -> class name (None: dropped by the protocols), per dataset.
EMOTION_MAPPINGS: dict[str, dict[str, str | None]] = {
    "casme": {
        "disgust": _NEG,
        "repression": _NEG,
        "sadness": _NEG,
        "happiness": _POS,
        "amusement": _POS,
        "surprise": _SUR,
        "contempt": None,
        "fear": None,
        "tense": None,
    },
    "casme2": {
        "disgust": _NEG,
        "repression": _NEG,
        "happiness": _POS,
        "surprise": _SUR,
        "fear": None,
        "others": None,
        "sadness": None,
    },
    "samm": {
        "anger": _NEG,
        "contempt": _NEG,
        "disgust": _NEG,
        "fear": _NEG,
        "sadness": _NEG,
        "happiness": _POS,
        "surprise": _SUR,
        "other": None,
        "others": None,
    },
    "smic": {"negative": _NEG, "positive": _POS, "surprise": _SUR},
    "casme3a": {
        "anger": _NEG,
        "disgust": _NEG,
        "fear": _NEG,
        "sad": _NEG,
        "sadness": _NEG,
        "happy": _POS,
        "happiness": _POS,
        "surprise": _SUR,
        "others": None,
        "other": None,
    },
}


def emotion_mapping(dataset: str) -> dict[str, str | None]:
    """Return a copy of the emotion -> class mapping of ``dataset``.

    Raises
    ------
    ConfigError
        If the dataset has no mapping.
    """
    check_choice(dataset, "dataset", sorted(EMOTION_MAPPINGS))
    return dict(EMOTION_MAPPINGS[dataset])


@lru_cache(maxsize=1)
def _official_rows() -> tuple[tuple[str, str, str, int], ...]:
    text = resources.files("microexpr.data").joinpath("megc2019_clips.csv").read_text("utf-8")
    return tuple(
        (row["dataset"], row["subject"], row["clip"], int(row["label"]))
        for row in csv.DictReader(io.StringIO(text))
    )


def official_clips(dataset: str, protocol: str = "megc2019") -> dict[tuple[str, str], int]:
    """Return the official clip list of ``protocol`` for one dataset.

    Parameters
    ----------
    dataset : {'casme2', 'samm', 'smic'}
        Dataset whose clips are wanted.
    protocol : {'megc2019'}
        The only published list so far.

    Returns
    -------
    dict of (subject, clip) to int
        Label (index into ``CLASS_NAMES``) of each listed clip: 145 CASME II,
        133 SAMM and 164 SMIC-HS clips.
    """
    check_choice(protocol, "protocol", ["megc2019"])
    check_choice(dataset, "dataset", ["casme2", "samm", "smic"])
    return {(s, c): label for d, s, c, label in _official_rows() if d == dataset}
