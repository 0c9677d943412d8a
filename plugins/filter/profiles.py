# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters that turn a profile's requirements, stated once as data, into its tasks and its readiness requirements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _profiles


def _plain(value):
    """Templated data as plain dicts, lists and strings, which the derivation reads."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def profile_steps(profile, prepared=None, play_hosts=None, variables=None, unknown_variables="fail", later=None,
                  inventory_clusters=None):
    try:
        steps = _profiles.steps(_plain(profile), _plain(prepared), _plain(play_hosts), _plain(variables),
                                str(unknown_variables), later=_plain(later), inventory_clusters=_plain(inventory_clusters))
    except (_profiles.ProfileError, KeyError, TypeError) as error:
        raise AnsibleFilterError(f"profile_steps: the profile data is not as the role states it: {error!r}") from error
    for warning in steps["warnings"]:
        Display().warning(warning)
    return steps


def profile_readiness(profiles):
    try:
        return _profiles.readiness(_plain(profiles))
    except (_profiles.ProfileError, KeyError, TypeError) as error:
        raise AnsibleFilterError(f"profile_readiness: the profile data is not as the role states it: {error!r}") from error


class FilterModule:
    def filters(self):
        return {"profile_steps": profile_steps, "profile_readiness": profile_readiness}
