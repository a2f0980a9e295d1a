"""File names for per-id outputs (a coaching page per rep): safe, unique and stable.

An id is whatever the CRM holds: ``a/b``, ``..``, 300 characters, Chinese, ``CON``. A
file name must be none of those things. :func:`slug` keeps an id that is already a
portable file name as it is (``R001`` -> ``R001``) and otherwise turns it into a readable
stem plus a short hash of the exact id (``a/b`` -> ``a_b~5e0d0b3d2c``). ``~`` never
occurs in a kept id, so a hashed slug cannot meet a kept one, and the hash keeps ``a/b``
and ``a:b`` apart. The same id gives the same slug in every run and on every machine.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

#: Longest kept id; longer ids are cut and hashed (file systems allow 255 bytes).
MAX_KEPT = 64
_KEPT = re.compile(rf"^[0-9A-Za-z][0-9A-Za-z._-]{{0,{MAX_KEPT - 1}}}$")
_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")
#: Names Windows refuses for a file whatever the extension.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
HASH_CHARS = 10


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def slug(value) -> str:
    """A file-name stem for one id.

    Parameters
    ----------
    value : str
        The id, exactly as in the data.

    Returns
    -------
    str
        ``value`` itself when it is 1-64 of ``0-9 A-Z a-z . _ -``, starts with a letter or
        digit, does not end with a dot and is not a reserved device name; otherwise at most
        40 safe characters of it, ``~`` and 10 hex digits of its SHA-256.
    """
    value = str(value)
    if _KEPT.match(value) and not value.endswith(".") and not _RESERVED.match(value):
        return value
    readable = _UNSAFE.sub("_", unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode())
    readable = readable.strip("._-")[:40] or "id"
    return f"{readable}~{_hash(value)}"


def unique_slugs(values) -> dict[str, str]:
    """``{id: slug}`` for a set of ids, unique also where file names ignore case.

    Two kept ids that differ only in case (``R1`` and ``r1``; one file on Windows or
    macOS) both get the hashed form, so neither page overwrites the other.
    """
    ids = list(dict.fromkeys(str(v) for v in values))
    out = {v: slug(v) for v in ids}
    seen: dict[str, list[str]] = {}
    for v, s in out.items():
        seen.setdefault(s.casefold(), []).append(v)
    for group in seen.values():
        if len(group) > 1:
            for v in group:
                base = _UNSAFE.sub("_", v).strip("._-")[:40] or "id"
                out[v] = f"{base}~{_hash(v)}"
    return out
