"""`python -m exporter` runs the llm-exporter command."""

import sys

from exporter.cli import main

sys.exit(main())
