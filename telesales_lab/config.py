"""Where things are: the one place for the package's paths.

- :func:`cache_dir`: typed copies of validated data sets (``$TELESALES_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/telesales-lab``, else ``~/.cache/telesales-lab``); read at each call,
  so a test or a notebook can point it elsewhere.
- :func:`defaults_dir`: the shipped defaults (``policy.toml``, ``training_catalog.csv``);
  :data:`DEFAULTS_LABEL` is how error messages name that folder.
- :data:`REPORTS_DIR`: the default parent folder of the monthly reports.
- :data:`DEMO_DIR`: the default folder of the demo data set.

Only the standard library is imported here, so every layer may use it.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: Environment variable naming the cache folder.
CACHE_ENV = "TELESALES_CACHE_DIR"
#: Environment variable naming the policy file that ``policy=None`` means (set by the report
#: for its notebooks' kernels, so every analysis in them follows ``report --policy FILE``).
POLICY_ENV = "TELESALES_POLICY"
#: Default parent folder of the monthly reports (relative to the working directory).
REPORTS_DIR = "reports"
#: Default folder of the demo data set (relative to the working directory).
DEMO_DIR = "data/demo"
#: The defaults folder as error messages name it.
DEFAULTS_LABEL = "defaults"


def cache_dir() -> Path:
    """Where typed copies of validated data sets are kept (``$TELESALES_CACHE_DIR``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "telesales-lab"


def defaults_dir() -> Path:
    """The folder of the shipped defaults inside the installed package."""
    return Path(str(resources.files("telesales_lab") / "defaults"))


def default_file(name: str) -> Path:
    """A shipped defaults file, e.g. ``default_file("policy.toml")``."""
    return defaults_dir() / name


def default_label(name: str) -> str:
    """How messages name a shipped defaults file: ``defaults/policy.toml``."""
    return f"{DEFAULTS_LABEL}/{name}"
