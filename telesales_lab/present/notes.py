"""What a page shows where its input is missing: one sentence, never a placeholder number.

A report page is made of sections; a section whose input the data set lacks (no QA
assessments, one script per scenario, nobody to evaluate) shows one clear sentence in the
report's language instead of its table or chart, and the page goes on. Tables show an
unknown number as "no evidence" (and empty text as blank), never as ``NaN`` or ``<NA>``.
"""

from __future__ import annotations

from telesales_lab.exceptions import ParameterError
from telesales_lab.labels import check_lang, t

_STATE: dict = {"lang": "en"}


def note(key: str, lang: str = "en", **values):
    """One sentence (label ``key`` of the catalogs, ``{name}`` fields filled in) as Markdown."""
    from IPython.display import Markdown

    check_lang(lang)
    text = t(key, lang)
    if values:
        text = text.format(**values)
    return Markdown(f"*{text}*")


def attempt(compute, *args, **kwargs):
    """``compute(*args, **kwargs)``, or None where the data cannot serve the request.

    Returns ``(result, None)``, or ``(None, message)`` when the analysis raised
    :class:`~telesales_lab.exceptions.ParameterError` (a month without calls, nobody to
    evaluate): the section then shows a sentence instead of failing the page.
    """
    try:
        return compute(*args, **kwargs), None
    except ParameterError as exc:
        return None, str(exc)


def section(frame, lang: str, empty_key: str, *, context: str | None = None, message: str | None = None):
    """A table for the page, or the sentence ``empty_key`` when there is nothing to show.

    ``frame`` None (see :func:`attempt`) or without rows gives the sentence; otherwise the
    frame with translated column headers.
    """
    from telesales_lab.labels import translate_columns

    if frame is None or len(frame) == 0:
        return note(empty_key, lang)
    return translate_columns(frame, lang, context)


def frame_html(frame) -> str:
    """HTML of a DataFrame for a page: unknown numbers read "no evidence", empty text is blank."""
    import pandas as pd

    lang = _STATE["lang"]
    shown = frame.copy()
    for col in shown.columns:
        s = shown[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            if isinstance(s.dtype, pd.api.extensions.ExtensionDtype):  # Int64: NaN, so na_rep applies
                shown[col] = s.astype("float64")
        else:
            shown[col] = s.astype(object).where(s.notna(), "")
    return shown.to_html(na_rep=t("no_evidence", lang), max_rows=pd.get_option("display.max_rows"),
                         max_cols=pd.get_option("display.max_columns"), classes="dataframe",
                         float_format=lambda v: f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}")


def kernel_shell():
    """The IPython shell this code runs in when it can display rich output, else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and hasattr(shell, "display_formatter") else None


def register(lang: str = "en") -> None:
    """In a Jupyter kernel, show every DataFrame through :func:`frame_html` in ``lang``."""
    check_lang(lang)
    _STATE["lang"] = lang
    shell = kernel_shell()
    if shell is None:
        return
    import pandas as pd

    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
