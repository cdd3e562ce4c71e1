"""An argparse parser whose errors are one-line `InputError`s instead of usage dumps."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .errors import InputError


class OneLineParser(argparse.ArgumentParser):
    """Report bad flags as `InputError` so every front prints one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        # argparse phrases: "argument --pr: invalid int value: 'x'",
        # "the following arguments are required: --repo"
        if message.startswith("argument "):
            name, _, problem = message[len("argument ") :].partition(": ")
            raise InputError(name.split("/")[0], problem)
        required = "the following arguments are required: "
        if message.startswith(required):
            first = message[len(required) :].split(", ")[0]
            raise InputError(first.split("/")[0], "required")
        raise InputError(self.prog, message)
