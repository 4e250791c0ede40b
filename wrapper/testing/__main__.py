"""``python -m wrapper.testing``: run the fake Together server standalone (see ``--help``)."""

from wrapper.testing._fake_cli import main

main()
