"""A config the schema refuses, told in a few lines: the key, what it holds, what was expected and,
for a near miss, "did you mean". (jsonschema's own message is followed by the whole sub-schema, up to
a thousand lines for a typo in a variant.) Standard library only, plus jsonschema, which Snakemake
brings: planning imports it."""

from __future__ import annotations

import difflib

SCHEMA_FILE = "config/schema.yaml"
SHOWN = 60  # characters of a value shown in a message


def config_problem(config: dict, schema: dict) -> str | None:
    """The message for the schema's most relevant complaint about `config`, or None if it has none."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    return None if error is None else describe(error)


def describe(error) -> str:
    """A few lines (at most 7) for one jsonschema ValidationError."""
    key = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties":
        lines = _unknown_keys(key, set(error.instance) - set(error.schema.get("properties", {})), error.schema)
    elif "propertyNames" in error.absolute_schema_path:  # the instance is the key's name
        lines = _unknown_keys(key, {error.instance}, {"properties": dict.fromkeys(error.validator_value)})
    elif error.validator == "enum":
        lines = [f"{key or 'config'}: {_shown(error.instance)} is not one of {error.validator_value}"]
        lines += [f"  did you mean {close!r}?" for close in _closest(error.instance, error.validator_value)]
    elif error.validator == "type":
        expected = (
            error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        )
        lines = [f"{key}: {_shown(error.instance)} is not of type {expected}"]
    else:
        lines = [f"{key or 'config'}: {_trimmed(error.message)}"]
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description and error.validator != "additionalProperties" and "propertyNames" not in error.absolute_schema_path:
        lines.append(f"  ({_trimmed(description, 200)})")
    lines.append(f"Every setting, with its default and bounds: {SCHEMA_FILE}")
    return "\n".join(lines)


def _unknown_keys(key: str, unknown: set, schema: dict) -> list[str]:
    known = list(schema.get("properties", {}))
    where, owner = (f"{key}.", key) if key else ("", "the config")
    lines = []
    names = sorted(unknown, key=str)
    for name in names[:2]:
        lines.append(f"config key {where}{name}: not a setting of {owner}")
        lines += [f"  did you mean {where}{close}?" for close in _closest(name, known)]
    if len(names) > 2:
        lines.append(f"  and {len(names) - 2} more: {', '.join(map(str, names[2:]))}")
    if known:
        lines.append(f"  settings of {owner}: {', '.join(map(str, known))}")
    return lines


def _closest(value, choices) -> list[str]:
    """The choice closest to a mistyped `value` (none when nothing is close)."""
    if not isinstance(value, str):
        return []
    return difflib.get_close_matches(value, [str(choice) for choice in choices if choice is not None], n=1, cutoff=0.6)


def _shown(value) -> str:
    return _trimmed(repr(value), SHOWN)


def _trimmed(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
