"""Per-id file names: safe, unique and stable whatever the ids hold."""

from __future__ import annotations

import re

import pytest

from telesales_lab.present.slugs import slug, unique_slugs

MONTH = "2026-10"


def test_safe_ids_are_kept_and_unsafe_ones_hashed():
    assert slug("R001") == "R001"
    assert slug("a_b") == "a_b"
    assert re.fullmatch(r"a_b~[0-9a-f]{10}", slug("a/b"))
    assert slug("a/b") != slug("a:b") != slug("a_b")
    assert slug("a/b") == slug("a/b")  # stable
    # pinned: the slug is the same on every machine and in every run (SHA-256 of the id)
    import hashlib

    assert slug("a/b") == "a_b~" + hashlib.sha256(b"a/b").hexdigest()[:10]
    for bad in ("..", ".", "", "CON", "nul.txt", "x" * 300, "王芳", "a\x00b", "-rf", "a.", " a"):
        s = slug(bad)
        assert s != bad and "~" in s, bad
        assert re.fullmatch(r"[0-9A-Za-z._~-]{1,60}", s), s
    assert len(slug("x" * 300)) <= 51


def test_unique_even_where_case_is_ignored():
    names = unique_slugs(["R1", "r1", "R2", "a/b", "a_b"])
    assert len({n.casefold() for n in names.values()}) == 5
    assert names["R2"] == "R2" and names["a_b"] == "a_b"


@pytest.fixture(scope="module")
def hostile(demo_folder):
    """The small demo with rep ids a file system cannot hold as they are."""
    from telesales_lab.data.load import load_dataset

    folder, _ = demo_folder(n_teams=2, reps_per_team=5, n_customers=400, n_calls=4000, months=3)
    data = load_dataset(folder)
    from telesales_lab.analysis.coaching import active_reps

    reps = sorted(active_reps(data, MONTH))
    new = {reps[0]: "a/b", reps[1]: "a_b", reps[2]: "x" * 300, reps[3]: "../../etc"}
    changed = {}
    for name, frame in data.tables.items():
        cols = [c for c in ("rep_id", "manager_id", "assessor_id") if c in frame]
        if cols:
            changed[name] = frame.assign(**{c: frame[c].replace(new) for c in cols})
    return data.replace(**changed), new


def test_every_rep_gets_its_own_coaching_page_and_one_index_link(hostile, tmp_path):
    from telesales_lab.present import coaching_page
    from telesales_lab.report import _write_index

    data, new = hostile
    out = tmp_path / "report"
    paths = coaching_page.build_packs(data, MONTH, out / "coaching")
    assert all(p.parent == out / "coaching" for p in paths)  # nothing written elsewhere
    names = [p.name for p in paths]
    assert len(names) == len(set(names)) == len(list((out / "coaching").glob("*.html")))
    for rep in new.values():
        page = out / "coaching" / coaching_page.pack_filename(rep)
        assert page.is_file(), rep
    index = _write_index(out, MONTH, "en", tmp_path, [], None, [], sorted(names), data.reps)
    text = index.read_text(encoding="utf-8")
    for name in names:
        assert text.count(f'href="coaching/{name}"') == 1
    # each link shows its own rep id (beside the rep's name)
    assert '<span class="small">a/b</span>' in text and '<span class="small">a_b</span>' in text
