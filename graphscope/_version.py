"""The version of graphscope (read by the build and by ``graphscope -V``)."""

__version__ = "0.1.0"
