"""graphscope: see a PyTorch program's autograd graph and what goes wrong in it."""

from graphscope._version import __version__
from graphscope.errors import GraphscopeError
from graphscope.model import AutogradGraph, Finding, Options

__all__ = ["AutogradGraph", "Finding", "GraphscopeError", "Options", "__version__"]
