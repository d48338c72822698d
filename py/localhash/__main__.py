"""Entry for `python -m localhash`."""

import sys

from .cli import main

sys.exit(main())
