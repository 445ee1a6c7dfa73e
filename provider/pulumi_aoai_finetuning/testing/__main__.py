"""``python -m pulumi_aoai_finetuning.testing up|preview|refresh|destroy PROGRAM_DIR ...``: the program harness."""

import sys

from .command_line import main

sys.exit(main())
