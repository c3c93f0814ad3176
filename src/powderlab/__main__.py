"""`python -m powderlab` is the `powderlab` command."""

import sys

from powderlab.cli.main import main

sys.exit(main())
