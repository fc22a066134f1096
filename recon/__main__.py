"""`python -m recon ...`: see recon.cli."""

import sys

from recon.cli import main

sys.exit(main())
