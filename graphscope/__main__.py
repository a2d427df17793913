"""``python -m graphscope ...`` (and ``torchrun -m graphscope ...``): the command line."""

from graphscope.cli import main

if __name__ == "__main__":
    main(prog_name="graphscope")
