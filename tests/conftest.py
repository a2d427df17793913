"""Shared pytest setup: ``--update-golden`` rewrites the golden DOT/JSON snapshots; the
scripts the tests start get Ctrl-C's default meaning even when the suite itself runs with
SIGINT ignored (``nohup``, a background job of a non-interactive shell), since an ignored
signal stays ignored in every child and the Ctrl-C tests would test nothing."""

from __future__ import annotations

import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # children: SIG_DFL


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/* from this run (then review the diff with git)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
