"""`python -m salsav_core.eval` = `salsav eval`."""
import sys

from .cli import main

sys.exit(main())
