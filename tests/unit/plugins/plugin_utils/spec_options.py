"""A task's options as a module's argument spec completes them, without Ansible: what the planners' tests hand a
definition.

Defaults are filled in as ansible-core's ArgumentSpecValidator fills them, options and suboptions alike, and what a
task could not have is refused: an unknown option, a missing required one, a value outside its choices, a rule of
the spec broken. So a planner test never plans on options no task could have, and imports nothing from Ansible.
tests/unit/plugins/action/test_spec_options.py checks both against ArgumentSpecValidator.
"""

from __future__ import annotations

import copy
import os

_TYPES = {"str": str, "path": str, "bool": bool, "int": int, "list": list, "dict": dict, "raw": object}


class SpecError(AssertionError):
    """Options that the module's argument spec refuses."""


def _check_type(value, option: dict, where: str) -> object:
    wanted = option.get("type", "str")
    if not isinstance(value, _TYPES[wanted]) or (wanted == "int" and isinstance(value, bool)):
        raise SpecError(f"{where}: {value!r} is not of type {wanted}")
    if wanted == "path":
        return os.path.expanduser(os.path.expandvars(value))
    if wanted == "list" and option.get("elements") in ("str", "path"):
        for index, element in enumerate(value):
            _check_type(element, {"type": option["elements"]}, f"{where}[{index}]")
    return value


def _check_rules(rules: dict, given: dict, values: dict, where: str) -> None:
    for group in rules.get("mutually_exclusive", []):
        if sum(name in given for name in group) > 1:
            raise SpecError(f"{where}parameters are mutually exclusive: {'|'.join(group)}")
    for group in rules.get("required_one_of", []):
        if not any(values.get(name) is not None for name in group):
            raise SpecError(f"{where}one of the following is required: {', '.join(group)}")
    for key, value, needed, *any_of in rules.get("required_if", []):
        if values.get(key) == value:
            missing = [name for name in needed if values.get(name) is None]
            if (missing and not (any_of and any_of[0])) or len(missing) == len(needed):
                raise SpecError(f"{where}{key} is {value} but these are missing: {', '.join(missing)}")


def validated(spec: dict, args: dict, rules: dict | None = None, where: str = "") -> dict:
    """args with every option of spec, its default where args leave it out; SpecError for what the spec refuses."""
    if not isinstance(args, dict):
        raise SpecError(f"{where.rstrip('.')}: {args!r} is not a dictionary")
    unknown = sorted(set(args) - set(spec))
    if unknown:
        raise SpecError(f"{where}unsupported parameters: {', '.join(unknown)}")
    values = {}
    for name, option in spec.items():
        value = args.get(name)
        if value is None:
            if option.get("required"):
                raise SpecError(f"{where}missing required arguments: {name}")
            value = copy.deepcopy(option.get("default"))
        if value is not None:
            value = _check_type(value, option, f"{where}{name}")
            if "choices" in option and value not in option["choices"]:
                raise SpecError(f"{where}{name}: {value!r} is not one of {option['choices']}")
            if "options" in option:
                sub_rules = {rule: option[rule] for rule in ("mutually_exclusive", "required_one_of", "required_if")
                             if rule in option}
                if option.get("type") == "dict":
                    value = validated(option["options"], value, sub_rules, f"{where}{name}.")
                else:
                    value = [validated(option["options"], element, sub_rules, f"{where}{name}[{index}].")
                             for index, element in enumerate(value)]
        values[name] = value
    _check_rules(rules or {}, args, values, where)
    return values
