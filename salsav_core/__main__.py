"""`python -m salsav_core` = the `salsav` command."""
import sys

from .cli import main

sys.exit(main())
