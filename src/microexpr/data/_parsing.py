"""Coding sheets: read any micro-expression database's sheet into rows of canonical fields.

The coding sheets of the micro-expression databases differ in small ways
(header on row 1 or after 13 rows of notes, ``OnsetFrame`` or ``Onset Frame``,
subject ``'01'`` as text or ``1`` as a number, an apex written ``'/'``). This
module reads any of them into :class:`SheetRow` objects keyed by canonical
field names (``subject``, ``clip``, ``onset``, ``apex``, ``offset``,
``emotion``).
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from microexpr.errors import AnnotationError

__all__ = [
    "HEADER_SEARCH_ROWS",
    "SheetLayout",
    "SheetRow",
    "cell_int",
    "cell_text",
    "header_key",
    "read_sheet",
    "read_workbook",
    "table_rows",
]

#: How many rows from the top are searched for the header row.
HEADER_SEARCH_ROWS = 30

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def header_key(value: object) -> str:
    """Normalise a header cell for matching: lowercase, letters and digits only."""
    return _NOT_ALNUM.sub("", str(value).lower()) if value is not None else ""


def cell_text(value: object) -> str:
    """Return a cell as stripped text (``None`` -> ``''``, ``46.0`` -> ``'46'``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_int(value: object) -> int | None:
    """Return a cell as an int frame number, or None when it is not one (``'/'``, blank)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = cell_text(value)
    if text.isdigit():
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


@dataclass(frozen=True)
class SheetLayout:
    """The columns a coding sheet must have.

    Attributes
    ----------
    columns : mapping of str to tuple of str
        Canonical field -> accepted header spellings; the first spelling is
        the one error messages name. All are required.
    optional : mapping of str to tuple of str
        Fields read when present.
    sheet_names : tuple of str
        Worksheets searched first (``MICRO_ONLY`` for SAMM); the others follow.
    """

    columns: Mapping[str, tuple[str, ...]]
    optional: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sheet_names: tuple[str, ...] = ()

    def expected(self) -> str:
        """Return the required headers, as error messages name them."""
        return ", ".join(repr(names[0]) for names in self.columns.values())

    def match(self, header: Sequence[object]) -> dict[str, int] | None:
        """Column index of each field if ``header`` has all required ones, else None."""
        keys = [header_key(cell) for cell in header]
        found: dict[str, int] = {}
        for required, spec in ((True, self.columns), (False, self.optional)):
            for name, spellings in spec.items():
                wanted = {header_key(s) for s in spellings}
                index = next((i for i, k in enumerate(keys) if k in wanted), None)
                if index is None:
                    if required:
                        return None
                    continue
                found[name] = index
        return found


@dataclass(frozen=True)
class SheetRow:
    """One data row of a coding sheet.

    Attributes
    ----------
    source : str
        Where it comes from, ``'file.xlsx row 15'`` (1-based, as a spreadsheet shows it).
    values : dict of str to object
        Raw cell of each canonical field.
    """

    source: str
    values: dict[str, object]


def _worksheets(path: Path) -> list[tuple[str, list[tuple[object, ...]]]]:
    """All worksheets of ``path`` as (name, rows of raw cells)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                return [(path.stem, [tuple(row) for row in csv.reader(handle)])]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise AnnotationError(f"{path}: not a readable CSV file ({exc})") from exc
    if suffix == ".xls":
        return read_workbook(path)
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise AnnotationError(f"{path}: not a readable spreadsheet ({exc})") from exc
    try:
        return [(ws.title, list(ws.iter_rows(values_only=True))) for ws in book.worksheets]
    finally:
        book.close()


def read_sheet(path: str | Path, layout: SheetLayout) -> list[SheetRow]:
    """Read the data rows of a coding sheet.

    The header row is the first row, within the first 30 of a worksheet,
    that holds every required column of ``layout`` (so SAMM's 13 rows of
    notes are skipped). Rows whose subject and clip are both blank are
    ignored.

    Parameters
    ----------
    path : str or Path
        ``.xlsx``, ``.xlsm``, ``.xls`` (needs xlrd) or ``.csv``.
    layout : SheetLayout
        The columns expected.

    Returns
    -------
    list of SheetRow

    Raises
    ------
    AnnotationError
        If the file cannot be read or no worksheet has the expected columns.
    """
    path = Path(path)
    sheets = _worksheets(path)
    order = {name: i for i, name in enumerate(layout.sheet_names)}
    sheets.sort(key=lambda item: order.get(item[0], len(order)))
    first_row: tuple[object, ...] = ()
    filled = sum(any(cell_text(c) for row in rows for c in row) for _, rows in sheets)
    for name, rows in sheets:
        for number, header in enumerate(rows[:HEADER_SEARCH_ROWS], start=1):
            if not first_row and any(cell_text(c) for c in header):
                first_row = header
            columns = layout.match(header)
            if columns is None:
                continue
            result = []
            for row_number, row in enumerate(rows[number:], start=number + 1):
                values = {f: (row[i] if i < len(row) else None) for f, i in columns.items()}
                if not cell_text(values.get("subject")) and not cell_text(values.get("clip")):
                    continue
                where = f"{path.name} row {row_number}"
                if filled > 1:
                    where = f"{path.name} sheet {name!r} row {row_number}"
                result.append(SheetRow(where, values))
            return result
    found = ", ".join(repr(cell_text(c)) for c in first_row if cell_text(c)) or "nothing"
    raise AnnotationError(
        f"{path}: expected a header row with the columns {layout.expected()} within the "
        f"first {HEADER_SEARCH_ROWS} rows of a worksheet; the first non-empty row holds {found}"
    )


def read_workbook(path: str | Path) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every worksheet of a spreadsheet as ``(name, rows of raw cells)``, read with pandas.

    No row is taken as a header (the long-video sheets have none, or notes
    above it); empty cells are None; numbers stay numbers. A ``.csv`` is one
    worksheet named after the file.

    Raises
    ------
    AnnotationError
        If the file cannot be read as a spreadsheet.
    """
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            frames = {path.stem: pd.read_csv(path, header=None, dtype=object, encoding="utf-8-sig")}
        else:
            frames = pd.read_excel(path, header=None, sheet_name=None, dtype=object)
    except ImportError as exc:
        need = "the xlrd package (pip install xlrd)" if path.suffix.lower() == ".xls" else str(exc)
        raise AnnotationError(
            f"{path}: reading {path.suffix.lower()} sheets needs {need}, or save the sheet as .xlsx"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure means the same to the user
        raise AnnotationError(f"{path}: not a readable spreadsheet ({exc})") from exc
    return [
        (str(name), [tuple(None if v != v else v for v in row) for row in df.to_numpy()])
        for name, df in frames.items()
    ]


def table_rows(
    rows: Sequence[tuple[object, ...]], layout: SheetLayout, where: str
) -> list[SheetRow] | None:
    """The data rows under the first header row (within 30 rows) that fits ``layout``.

    Parameters
    ----------
    rows : sequence of tuple
        One worksheet's cells (:func:`read_workbook`).
    layout : SheetLayout
        The columns expected.
    where : str
        Prefix of each row's ``source`` (``'file.xlsx'``); rows are numbered
        1-based, as a spreadsheet shows them.

    Returns
    -------
    list of SheetRow or None
        None when no header row fits. Rows with every field blank are left out.
    """
    for number, header in enumerate(rows[:HEADER_SEARCH_ROWS], start=1):
        columns = layout.match(header)
        if columns is None:
            continue
        result = []
        for row_number, row in enumerate(rows[number:], start=number + 1):
            values = {f: (row[i] if i < len(row) else None) for f, i in columns.items()}
            if any(cell_text(v) for v in values.values()):
                result.append(SheetRow(f"{where} row {row_number}", values))
        return result
    return None
