"""Value types of recipe keys: each turns a YAML value or a command-line string into the canonical Python value.

YAML gives typed values (but PyYAML reads ``1e-4`` as a string), the command line gives strings, so every
type accepts both. A bad value raises ``ValueError`` whose message says what would be accepted; the parser
adds the key and where the value came from.
"""
import math

import yaml

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")
_NULL = ("none", "null", "~", "")


def is_null(value):
    """True for YAML null and for the strings users write for 'no value' (none, null, ~, empty)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in _NULL)


class Bool:
    """true/false, yes/no, on/off, 1/0, in any case: `--distribute False` is false."""

    metavar = "BOOL"
    name = "bool"
    nargs = "?"  # a bare `--distribute` means true, as in MindCV

    def parse(self, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise ValueError("expected a boolean: true/false, yes/no, on/off or 1/0")


class _Number:
    """Shared range check of Int and Float."""

    def __init__(self, low=None, high=None, low_open=False):
        self.low, self.high, self.low_open = low, high, low_open

    def _check_range(self, number, kind):
        too_low = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        too_high = self.high is not None and number > self.high
        if too_low or too_high:
            raise ValueError(f"expected {kind} {self.range_text()}")
        return number

    def range_text(self):
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {self.low}"
        high = None if self.high is None else f"<= {self.high}"
        return " and ".join(part for part in (low, high) if part)


class Int(_Number):
    metavar = "INT"
    name = "int"
    nargs = None

    def parse(self, value):
        if isinstance(value, bool):
            raise ValueError(self._expected())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(self._expected()) from None
        if not isinstance(value, int):
            raise ValueError(self._expected())
        return self._check_range(value, "a whole number")

    def _expected(self):
        return f"expected a whole number {self.range_text()}".rstrip()


class Float(_Number):
    metavar = "FLOAT"
    name = "float"
    nargs = None

    def parse(self, value):
        if isinstance(value, bool):
            raise ValueError(self._expected())
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(self._expected()) from None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(self._expected())
        return self._check_range(float(value), "a number")

    def _expected(self):
        return f"expected a finite number {self.range_text()}".rstrip()


class Str:
    """Free text, or one of `choices` matched case-insensitively and returned in its canonical spelling."""

    metavar = "STR"
    name = "str"
    nargs = None

    def __init__(self, choices=None):
        self.choices = tuple(choices) if choices else None

    def parse(self, value):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(self._expected())
        text = str(value).strip() if self.choices else str(value)
        if not self.choices:
            return text
        for choice in self.choices:
            if str(choice).lower() == text.lower():
                return choice
        raise ValueError(self._expected())

    def _expected(self):
        if self.choices:
            return "expected one of " + ", ".join(str(choice) for choice in self.choices)
        return "expected a string"


class IntChoice(Int):
    """An integer restricted to a few values (e.g. mode 0/1)."""

    def __init__(self, choices):
        super().__init__()
        self.choices = tuple(choices)

    def parse(self, value):
        try:
            number = super().parse(value)
        except ValueError:
            number = None
        if number not in self.choices:
            raise ValueError("expected one of " + ", ".join(str(choice) for choice in self.choices))
        return number


class List:
    """A list of `item` values: a YAML list, several command-line words (`--scale 0.08 1.0`),
    one bracketed word (`--scale "[0.08, 1.0]"`) or comma-separated text (`0.08,1.0`)."""

    nargs = "+"

    def __init__(self, item, length=None, increasing=False):
        self.item, self.length, self.increasing = item, length, increasing
        self.name = f"list[{item.name}]"
        self.metavar = item.metavar

    def parse(self, value):
        items = self._split(value)
        if self.length is not None and len(items) != self.length:
            raise ValueError(f"expected a list of {self.length} {self.item.name} values")
        if not items:
            raise ValueError(f"expected a non-empty list of {self.item.name} values")
        try:
            parsed = [self.item.parse(item) for item in items]
        except ValueError as err:
            raise ValueError(f"list item: {err}") from None
        if self.increasing and any(a >= b for a, b in zip(parsed, parsed[1:])):
            raise ValueError(f"expected strictly increasing {self.item.name} values")
        return parsed

    @staticmethod
    def _split(value):
        if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], str):
            value = value[0]  # one command-line word: "[0.08, 1.0]" or "0.08,1.0" or a single item
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = yaml.safe_load(text)
                except yaml.YAMLError:
                    raise ValueError("expected a list such as [0.08, 1.0]") from None
                if not isinstance(value, list):
                    raise ValueError("expected a list such as [0.08, 1.0]")
            else:
                value = [part for part in text.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError("expected a list such as [0.08, 1.0]")
        return list(value)


class ErasingValue:
    """Random-erasing fill: one number, one number per channel, or 'random' (as mindspore.dataset.vision.RandomErasing)."""

    metavar = "VALUE"
    name = "number|list|random"
    nargs = "+"

    def parse(self, value):
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if isinstance(value, str) and value.strip().lower() == "random":
            return "random"
        if isinstance(value, str) and not value.strip().startswith("[") and "," not in value:
            return self._number(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self._number(value)
        try:
            return List(Float()).parse(value)
        except ValueError:
            raise ValueError(self._expected()) from None

    def _number(self, value):
        try:
            number = Float().parse(value)
        except ValueError:
            raise ValueError(self._expected()) from None
        return int(number) if number.is_integer() else number

    @staticmethod
    def _expected():
        return "expected a number, a list of numbers (one per channel) or 'random'"
