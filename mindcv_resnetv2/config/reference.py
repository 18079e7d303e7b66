"""The keys reference as markdown, generated from the schema so docs/configuration.md cannot drift from the code."""
from .parser import format_value
from .schema import ALIAS, GROUPS, KEYS, REFUSED


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def keys_markdown():
    """One table per topic: key, accepted values, default, meaning."""
    lines = [
        "Every key can be set in a recipe (`key: value`) or on the command line (`--key value`; lists as "
        "`--scale 0.08 1.0` or `--scale \"[0.08, 1.0]\"`; booleans as true/false, yes/no, on/off, 1/0). "
        "Keys marked *(new)* are this project's; the others are MindCV's (of 0.3.0 or another release), with MindCV's meaning and default.",
    ]
    for group, title in GROUPS.items():
        lines += ["", f"### {title}", "", "| key | accepts | default | meaning |", "|---|---|---|---|"]
        for key in KEYS:
            if key.group != group:
                continue
            meaning = key.help
            if key.role == ALIAS:
                meaning = f"*Alias.* {meaning}"
            elif key.role == REFUSED:
                meaning = f"*An error when set.* {meaning}"
            lines.append(
                f"| `{key.name}` | {_cell(key.type_text())} | `{_cell(format_value(key.default))}` | {_cell(meaning)} |"
            )
    return "\n".join(lines) + "\n"
