"""``python -m wrapper``: the ``together-wrapper`` command line."""

from wrapper.cli import main

if __name__ == "__main__":
    main()
