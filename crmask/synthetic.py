"""`crmask.data.synthetic`, under the name it had before evaluation code left the image core.

``import crmask.synthetic`` gives the very module `crmask.data.synthetic`, so every name,
private ones included, and every patch of it are shared.
"""

import sys

from .data import synthetic as _module

sys.modules[__name__] = _module
