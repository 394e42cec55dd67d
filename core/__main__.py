"""``python -m quanzi``."""

from quanzi.cli import main

main()
