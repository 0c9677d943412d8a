# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Messages about a task's options that name the option, ``parent[index].sub`` for a suboption.

ansible-core's ArgumentSpecValidator says which suboption is wrong but not in which element of the list
("value of state must be one of: present, absent, got: x found in pools"), and it turns a list or a mapping
given for a text option into its Python repr, so that a list given as a password would become the password
"['...']". The base class asks here for the first and refuses the second.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

# Rules that an option with suboptions may give for them, as ArgumentSpecValidator takes them.
RULES = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
_TEXT_TYPES = ("str", "path")


def _container(value) -> str | None:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple, set)):
        return "list"
    return None


def _without(option: dict, keys) -> dict:
    return {k: v for k, v in option.items() if k not in keys}


def _elements(name: str, option: dict, value) -> list[tuple[str, Mapping]]:
    """The dictionaries of an option with suboptions, each with its label: name[index], or name for a dict option."""
    if option.get("type") == "dict":
        return [(name, value)] if isinstance(value, Mapping) else []
    if isinstance(value, list):
        return [(f"{name}[{index}]", element) for index, element in enumerate(value) if isinstance(element, Mapping)]
    return []


def _text_errors(spec: dict, args: Mapping, prefix: str = "") -> dict[str, str]:
    """Options of spec that want text but were given a list or mapping, by name, with the message for each."""
    errors = {}
    for name, option in spec.items():
        value = args.get(name)
        wanted = option.get("type", "str")
        if wanted in _TEXT_TYPES and _container(value):
            errors[name] = f"{prefix}{name}: must be text, not a {_container(value)}"
        elif wanted == "list" and option.get("elements") in _TEXT_TYPES and isinstance(value, list):
            bad = [f"{prefix}{name}[{index}]: must be text, not a {_container(v)}" for index, v in enumerate(value) if _container(v)]
            if bad:
                errors[name] = "; ".join(bad)
    return errors


def text_errors(spec: dict, args: Mapping) -> list[str]:
    """Every option and suboption that wants text but was given a list or mapping; never quotes the value."""
    found = _text_errors(spec, args)
    messages = list(found.values())
    for name, option in spec.items():
        if "options" in option and name not in found:
            for label, element in _elements(name, option, args.get(name)):
                messages += _text_errors(option["options"], element, f"{label}.").values()
    return messages


def _element_errors(option: dict, element: Mapping, label: str) -> list[str]:
    """What is wrong with one element of an option with suboptions, suboption by suboption."""
    options = option["options"]
    messages = [f"{label}.{key}: is not an option of {label.split('[', 1)[0]}; its options are {', '.join(sorted(options))}"
                for key in element if key not in options]
    for key, sub in options.items():
        value = element.get(key)
        if value is None:
            if sub.get("required"):
                messages.append(f"{label}.{key}: is required")
            continue
        single = {key: _without(sub, ("required", "options", *RULES))}
        messages += [f"{label}.{key}: {m}" for m in ArgumentSpecValidator(single).validate({key: value}).error_messages]
    rules = {rule: option[rule] for rule in RULES if rule in option}
    if rules:
        # The rules alone: each suboption as it was given, none converted.
        raw = {key: {"type": "raw"} for key in options}
        given = {key: value for key, value in element.items() if key in options}
        messages += [f"{label}: {m}" for m in ArgumentSpecValidator(raw, **rules).validate(given).error_messages]
    return messages


def spec_errors(spec: dict, rules: dict, args: Mapping) -> list[str]:
    """The messages for args that fail spec, each naming its option; an element of a list as parent[index].sub.

    Text given as a list or mapping is reported alone: what the validator would say next (a required option
    missing, a choice not matched) would be about the repr it made of the value, and only mislead.
    """
    text = text_errors(spec, args)
    if text:
        return text
    # The options themselves, their suboptions left to the elements below.
    shallow = {name: _without(option, ("options", *RULES)) for name, option in spec.items()}
    messages = ArgumentSpecValidator(shallow, **rules).validate(args).error_messages
    for name, option in spec.items():
        if "options" in option:
            for label, element in _elements(name, option, args.get(name)):
                messages += _element_errors(option, element, label)
    return list(dict.fromkeys(messages))
