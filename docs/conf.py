"""Sphinx configuration of the crmask documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``. Pages that show
measured results (the detector benchmark) are generated at build time by
``docs/scripts/`` into ``docs/_generated/``; see ``_ext/crmask_docs.py``.
"""

import sys
from pathlib import Path

import click

import crmask
from crmask.cli import cli

# Plugins add their commands (``crmask wfi``, ``crmask train unet``) the first
# time the command line lists its commands; do that before sphinx-click reads it.
cli.list_commands(click.Context(cli))

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "crmask"
author = "crmask developers"
copyright = "2026, crmask developers"
release = crmask.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_click",
    "crmask_docs",
]

# Single backticks are cross-references (astropy's convention). Unresolved
# ones render as code; nitpicky mode stays off because third-party targets
# (numpy, astropy) have no inventory offline.
default_role = "obj"
nitpicky = False

autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
templates_path = []
html_theme = "alabaster"
html_static_path = []
html_title = f"crmask {release}"
html_theme_options = {
    "description": "Cosmic-ray detection for CCD and DEPFET frames",
    "fixed_sidebar": True,
}
