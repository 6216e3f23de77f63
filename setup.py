"""Build hook: the bundled runtimes/ and middlewares/ go into the distribution.

They stay at the top of the source tree, where users and the layer layout expect them;
a wheel carries them as package data under `openruntime/_bundled/`, where
`openruntime.locate` finds them. An editable install finds them in the checkout instead.
Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("runtimes", "middlewares")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", ".*")


class BuildPyWithBundle(build_py):
    """`build_py`, then a copy of each bundled folder with its run bits."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = os.path.dirname(os.path.abspath(__file__))
        for name in BUNDLED:
            source = os.path.join(here, name)
            if not os.path.isdir(source):
                raise SystemExit(f"setup.py: {source} is missing: build from a full source tree or sdist")
            target = os.path.join(self.build_lib, "openruntime", "_bundled", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=_SKIP)  # copy2 keeps the mode


setup(cmdclass={"build_py": BuildPyWithBundle})
