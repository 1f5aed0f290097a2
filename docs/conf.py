"""Sphinx configuration: the API reference, generated from the docstrings (numpydoc style).

Built offline in CI (.ci/run): `python -m sphinx -W -b html docs docs/_build`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imap_cli

project = "imap-sdc-cli"
release = version = imap_cli.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
# "Attributes" as fields of their class, so a property documented by autodoc is not twice.
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
html_theme = "alabaster"
exclude_patterns = ["_build"]
