"""Sphinx configuration of the crmask documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (``CRMASK_DOCS_OFFLINE=1``
without the intersphinx links, which need the web). Pages that show
measured results (the detector benchmark) are generated at build time by
``docs/scripts/`` into ``docs/_generated/``; see ``_ext/crmask_docs.py``.
"""

import os
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
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_click",
    "crmask_docs",
]

# Single backticks are cross-references (astropy's convention). Unresolved
# ones render as code; nitpicky mode stays off because third-party targets
# have no inventory in an offline build (below).
default_role = "obj"
nitpicky = False

#: Projects whose documentation the references link to. Their inventories come from the web when the docs are
#: built; an offline build (``CRMASK_DOCS_OFFLINE=1``, as the test suite builds them) leaves them out, because
#: Sphinx warns (an error with ``-W``) about an inventory it cannot reach.
INTERSPHINX = {
    "python": ("https://docs.python.org/3/", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "astropy": ("https://docs.astropy.org/en/stable/", None),
    "ccdproc": ("https://ccdproc.readthedocs.io/en/stable/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
}
intersphinx_mapping = {} if os.environ.get("CRMASK_DOCS_OFFLINE") else INTERSPHINX

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
