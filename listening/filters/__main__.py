"""``python -m listening.filters``: JSON on stdin, JSON on stdout (spec "Command-line contract")."""
import sys

from listening.filters.cli import main

sys.exit(main())
