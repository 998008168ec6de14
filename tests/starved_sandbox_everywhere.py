"""Imported (e.g. preloaded into a suite's worker processes), starves every sandbox worker of this process:
see ``tests.starved_sandbox``."""

from tests.starved_sandbox import install

install()
