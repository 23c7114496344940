"""``python -m netdoctor.cli``: the same program as the ``netdoctor`` console script."""

from netdoctor.cli import main

if __name__ == "__main__":
    main()
