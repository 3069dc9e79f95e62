"""``python -m livecue``: the same command as ``livecue``."""

import sys

from livecue.cli import main

sys.exit(main())
