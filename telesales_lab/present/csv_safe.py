"""Result tables written as CSV: safe to open in a spreadsheet, or raw for scripts.

A CSV file opened in Excel, LibreOffice or Google Sheets runs any cell that starts with
``=``, ``+``, ``-`` or ``@`` as a formula (and a leading tab or carriage return can hide
one). A rep's or script's name such as ``=cmd|' /C calc'!A0`` would then start a program
on the reader's machine. Following the OWASP advice on CSV injection, :func:`spreadsheet_safe`
puts a single quote before such text cells; spreadsheets show the quote-less text, and the
number columns are left as numbers. ``raw=True`` writes the values exactly, for scripts.
"""

from __future__ import annotations

#: First characters that make a spreadsheet read a cell as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame):
    """A copy of ``frame`` whose text cells cannot start a spreadsheet formula.

    Parameters
    ----------
    frame : DataFrame

    Returns
    -------
    DataFrame
        The same columns and rows; in text (string, object, categorical) columns, a value
        starting with one of :data:`FORMULA_STARTS` gets a leading ``'``. Numeric, date and
        boolean columns are unchanged (``-3.5`` stays a number).
    """
    import pandas as pd

    out = frame.copy()
    pattern = "^[" + "".join("\\" + c if c in "-\\" else c for c in FORMULA_STARTS) + "]"
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("object").where(s.notna(), None)
        elif not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)):
            continue
        text = s.astype("string")
        risky = text.str.contains(pattern, regex=True).fillna(False).to_numpy(bool)
        if risky.any():
            s = s.astype("object").copy()
            s[risky] = "'" + text[risky].astype(str)
        out[col] = s
    return out


def write_csv(frame, stream, *, raw: bool = False) -> None:
    """Write ``frame`` as CSV (UTF-8, ``\\n`` line ends, no index).

    Parameters
    ----------
    frame : DataFrame
    stream : file-like or path
    raw : bool, default False
        False: cells are made safe for spreadsheets with :func:`spreadsheet_safe`.
        True: values exactly as they are, for scripts that read the CSV back.
    """
    (frame if raw else spreadsheet_safe(frame)).to_csv(stream, index=False, lineterminator="\n")
