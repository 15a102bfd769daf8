"""`python -m mockclaude` runs the CLI."""

import sys

from mockclaude.cli import main

sys.exit(main())
