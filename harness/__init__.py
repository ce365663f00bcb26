"""mailha: certifies the high-availability claims of clustered mail systems."""
from pathlib import Path

__version__ = "0.1.0"

#: the repository (or installed tree) root: compose/, suites/ and reports/ live here
ROOT = Path(__file__).resolve().parent.parent
