"""``python -m conformance.cli``: the same entry point as the ``ro-conformance`` script."""

import sys

from conformance.cli import main

sys.exit(main())
