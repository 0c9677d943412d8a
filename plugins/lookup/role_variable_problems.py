# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: role_variable_problems
author: pkiops maintainers (@pkiops)
version_added: 0.1.0
short_description: What is wrong with the variables of this collection's roles, one line per problem
description:
  - Checks the variables each named role of this collection takes against the C(main) entry point of the role's argument
    specification (C(meta/argument_specs.yml)), as Ansible checks them when the role starts, and returns one line per
    problem. Each missing variable gets a line of its own that names it and the role that needs it, instead of the whole
    specification Ansible shows.
  - The values of options the specification marks C(no_log) never appear in a line.
  - Role C(pkiops.keyfactor_command.common) uses it to check every role a host takes before any of them changes anything.
options:
  _terms:
    description: The roles, by name without the collection (C(portal)).
    type: list
    elements: str
    required: true
seealso:
  - plugin: pkiops.keyfactor_command.profile_steps
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Stop with one line per problem in the Management Portal's variables
  vars:
    portal_variable_problems: "{{ query('pkiops.keyfactor_command.role_variable_problems', 'common', 'portal') }}"
  ansible.builtin.assert:
    that: portal_variable_problems | length == 0
    fail_msg: "{{ portal_variable_problems | join('\n') }}"
"""

RETURN = r"""
_raw:
  description: One line per problem, such as C(portal_app_pool_account is not set, and role pkiops.keyfactor_command.portal needs it.)
  type: list
  elements: str
"""

import copy

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.lookup import LookupBase
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _variables


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        problems = []
        for role in terms:
            if role not in _variables.ROLES:
                raise AnsibleLookupError(f"role_variable_problems: {role!r} is not a role of pkiops.keyfactor_command; "
                                         f"give one of {', '.join(_variables.ROLES)}")
            spec = copy.deepcopy(_variables.main_options(role))
            # As ansible.builtin.validate_argument_spec takes them: the variables the specification names, templated.
            given = self._templar.template({name: variables[name] for name in spec if name in variables})
            result = ArgumentSpecValidator(spec).validate(given, validate_role_argument_spec=True)
            lines = _variables.argument_error_lines([{"item": role, "argument_errors": result.error_messages}])
            secrets = [given[name] for name, option in spec.items() if option.get("no_log") and name in given]
            problems += [_masked(line, secrets) for line in lines]
        return problems


def _masked(line: str, secrets) -> str:
    for secret in sorted((str(value) for value in secrets if value not in (None, "")), key=len, reverse=True):
        line = line.replace(secret, "********")
    return line
