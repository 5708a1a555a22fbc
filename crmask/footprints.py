"""`crmask.data.footprints`, under the name it had before evaluation code left the image core.

``import crmask.footprints`` gives the very module `crmask.data.footprints`, so every name,
private ones included, and every patch of it are shared.
"""

import sys

from .data import footprints as _module

sys.modules[__name__] = _module
