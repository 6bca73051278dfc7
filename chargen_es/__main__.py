"""``python -m chargen_es`` is ``chargen-es``."""

from chargen_es.cli import main

main()
