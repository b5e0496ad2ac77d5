"""Composite protocols: several datasets, three classes, LOSO over all subjects.

The composites of the paper (``atscnn``) and of MEGC2019 (``megc2019``) are
read with :func:`load_protocol` (SPEC section 3):

* ``atscnn``: CASME (emotion mapping; 104 clips, 15 subjects) + CASME II
  (145, 24) + SAMM (133, 28) = 382 clips, 67 subjects.
* ``megc2019``: CASME II (145, 24) + SAMM (133, 28) + SMIC-HS (164, 16) =
  442 clips, 68 subjects.

CASME II and SAMM are selected by the official MEGC2019 clip list in both:
the paper's CASME II and SAMM counts (88/32/25 and 92/26/15) are exactly
those of that list, while mapping the emotions of the 2019-07-01 CASME II
coding sheet gives 150 clips (90/32/28); see :mod:`microexpr.data.mappings`.
``selection='mapping'`` selects by the emotion mapping instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microexpr._validation import check_choice
from microexpr.data._base import ClipDataset
from microexpr.data.mappings import official_clips
from microexpr.data.records import ClipIssue, ClipRecord
from microexpr.data.registry import open_dataset, unknown_name
from microexpr.errors import ConfigError

__all__ = [
    "PROTOCOLS",
    "SELECTIONS",
    "ExpectedCounts",
    "Protocol",
    "ProtocolPart",
    "get_protocol",
    "list_protocols",
    "load_protocol",
    "open_protocol",
]


@dataclass(frozen=True)
class ExpectedCounts:
    """Published counts of a dataset in a protocol.

    Attributes
    ----------
    clips, subjects : int
    classes : tuple of int
        Clips per class, in ``CLASS_NAMES`` order.
    """

    clips: int
    subjects: int
    classes: tuple[int, ...]


@dataclass(frozen=True)
class ProtocolPart:
    """One dataset of a composite protocol.

    Attributes
    ----------
    dataset : str
        Registered dataset name.
    official_list : bool
        Whether the clips are selected by the MEGC2019 clip list.
    expected : ExpectedCounts
        The published counts.
    defaults : mapping of str to object
        Reader options the protocol sets unless the user sets them.
    """

    dataset: str
    official_list: bool
    expected: ExpectedCounts
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Protocol:
    """A composite protocol: several datasets, three classes, LOSO over all subjects."""

    name: str
    description: str
    parts: tuple[ProtocolPart, ...]
    expected: ExpectedCounts


# The official list (and the paper's counts) include SAMM's two clips whose apex
# lies outside onset..offset: keep them when their frames are there (still reported).
_KEEP = {"apex_outside": "keep"}

PROTOCOLS: dict[str, Protocol] = {
    "atscnn": Protocol(
        "atscnn",
        "the ATSCNN paper's composite: CASME + CASME II + SAMM",
        (
            ProtocolPart("casme", False, ExpectedCounts(104, 15, (82, 7, 15))),
            ProtocolPart("casme2", True, ExpectedCounts(145, 24, (88, 32, 25)), _KEEP),
            ProtocolPart("samm", True, ExpectedCounts(133, 28, (92, 26, 15)), _KEEP),
        ),
        ExpectedCounts(382, 67, (262, 65, 55)),
    ),
    "megc2019": Protocol(
        "megc2019",
        "the MEGC2019 composite: CASME II + SAMM + SMIC-HS",
        (
            ProtocolPart("casme2", True, ExpectedCounts(145, 24, (88, 32, 25)), _KEEP),
            ProtocolPart("samm", True, ExpectedCounts(133, 28, (92, 26, 15)), _KEEP),
            ProtocolPart("smic", True, ExpectedCounts(164, 16, (70, 51, 43))),
        ),
        ExpectedCounts(442, 68, (250, 109, 83)),
    ),
}

#: How a protocol selects the clips of CASME II, SAMM and SMIC-HS.
SELECTIONS = ("official", "mapping")


def list_protocols() -> list[str]:
    """Names of the composite protocols, sorted."""
    return sorted(PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; ConfigError naming the known ones if there is none."""
    if name not in PROTOCOLS:
        raise unknown_name("protocol", name, list_protocols())
    return PROTOCOLS[name]


def open_protocol(
    name: str,
    roots: Mapping[str, str | Path],
    options: Mapping[str, Mapping[str, Any]] | None,
    selection: str,
) -> list[tuple[ProtocolPart, ClipDataset]]:
    """Construct the reader of each dataset of protocol ``name`` (see :func:`load_protocol`)."""
    protocol = get_protocol(name)
    check_choice(selection, "selection", SELECTIONS)
    needed = [part.dataset for part in protocol.parts]
    missing = [d for d in needed if d not in roots]
    stray = sorted(set(roots) - set(needed))
    if missing or stray:
        raise ConfigError(
            f"protocol {name!r} needs roots for {', '.join(needed)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not part of it: {', '.join(stray)}" if stray else "")
        )
    options = dict(options or {})
    stray = sorted(set(options) - set(needed))
    if stray:
        raise ConfigError(
            f"protocol {name!r}: options given for {', '.join(stray)}, which it does not use "
            f"(its datasets: {', '.join(needed)})"
        )
    opened = []
    for part in protocol.parts:
        part_options = {**part.defaults, **(options.get(part.dataset) or {})}
        if part.official_list and selection == "official":
            part_options.setdefault("clips", official_clips(part.dataset))
        opened.append((part, open_dataset(part.dataset, roots[part.dataset], part_options)))
    return opened


def load_protocol(
    name: str,
    roots: Mapping[str, str | Path],
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    selection: str = "official",
    **dataset_options: Mapping[str, Any],
) -> tuple[list[ClipRecord], list[ClipIssue]]:
    """Read the clips of a composite protocol.

    Parameters
    ----------
    name : {'atscnn', 'megc2019'}
        The protocol.
    roots : mapping of str to str or Path
        Root of each of its datasets (``{'casme2': ..., 'samm': ..., 'smic': ...}``).
    options : mapping of str to mapping, optional
        Reader options per dataset (``{'casme2': {'release': 'cropped'}}``).
    selection : {'official', 'mapping'}
        Select CASME II, SAMM and SMIC-HS clips by the MEGC2019 clip list
        (the published counts, whatever the version of the coding sheet) or
        by mapping the emotions of the user's sheet.
    **dataset_options
        Reader options per dataset as keywords (``casme2={'release': 'cropped'}``),
        merged with ``options``: a config's ``data.options`` can be passed as
        ``**options``.

    Returns
    -------
    records : list of ClipRecord
        Usable clips of all datasets; ``record.group`` (``dataset/subject``)
        keeps subjects of different datasets apart.
    issues : list of ClipIssue
        Every problem found.

    Raises
    ------
    ConfigError
        If the protocol is unknown or a root is missing.
    DatasetNotFoundError, AnnotationError
        If a root is not its dataset or a sheet cannot be parsed.
    """
    records: list[ClipRecord] = []
    issues: list[ClipIssue] = []
    merged = {**(options or {}), **dataset_options}
    for _, dataset in open_protocol(name, roots, merged, selection):
        records += dataset.records
        issues += dataset.issues
    return records, issues
