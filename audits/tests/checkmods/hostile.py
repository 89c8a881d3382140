"""Misbehaves as asked: hangs, holds the GIL, exits, dies, or returns what JSON cannot carry."""

import os
import re
import time


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no words for it")


def run(how: str = "hang") -> tuple[bool, object]:
    if how == "hang":
        while True:
            time.sleep(1)
    if how == "gil":  # catastrophic backtracking: one C call, GIL held throughout
        return True, bool(re.match(r"(a+)+$", "a" * 40 + "b"))
    if how == "system_exit":
        raise SystemExit(3)
    if how == "keyboard_interrupt":
        raise KeyboardInterrupt()
    if how == "os_exit":
        os._exit(1)
    if how == "unprintable":
        raise Unprintable()
    return False, _data(how)


def _data(how: str):
    if how == "nan":
        return {"value": float("nan"), "limit": float("inf"), "low": float("-inf")}
    if how == "tuple_keys":
        return {(1, 2): "pair", 3: "three", "set": {4}}
    if how == "cycle":
        data = {"name": "loop"}
        data["self"] = data
        return data
    if how == "huge":
        return "x" * (50 * 1024 * 1024)
    raise ValueError(f"unknown misbehaviour {how!r}")
