# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared read: what pkiops.keyfactor_command.host_snapshot read, and when a task may use it.

A snapshot holds, for each task it was asked to read for, exactly what that
task's own probe would have returned, keyed by the module and the probe's
parameters. A task given the snapshot plans on that instead of probing again.

A snapshot goes stale when something changes the part of the host it read.
Every apply of this collection's modules counts its change in the host fact
``keyfactor_command_changes``, by domain (the part of Windows the module
changes); a snapshot remembers those counts as they were when it read, and a
read whose domains have counted a change since is not used. The counts are
facts so that they reach every later task on the host; the snapshot itself is a
registered result, so that it never outlives the run in a fact cache.
"""

from __future__ import annotations

import hashlib
import json

# The host fact that counts this collection's changes on a host, by domain.
CHANGES_FACT = "keyfactor_command_changes"

# What each module reads and changes. A module's apply counts a change in
# every domain it lists, and a snapshot read is stale after a change in any of
# them. cert_serial_registry reads the certificate store to find the serial.
DOMAINS = {
    "user_rights": ("user_rights",),
    "iis_app_pools": ("iis",),
    "pfx_import": ("certificates",),
    "private_key_acl": ("certificates",),
    "ca_certificates": ("certificates",),
    "cert_serial_registry": ("certificates", "registry"),
    "cluster_generic_service_role": ("cluster",),
}

# Modules a snapshot can read for: every module with DOMAINS. readiness_info
# is read for the checks, and never consults a snapshot itself.
READABLE_MODULES = tuple(DOMAINS)


class SnapshotError(Exception):
    """The value given as a snapshot is not one pkiops.keyfactor_command.host_snapshot returned."""


def read_key(module_name: str, probe_parameters: dict) -> str:
    """The key of a read: the module and its probe's parameters, which decide everything the probe returns."""
    text = json.dumps({"module": module_name, "probe": probe_parameters}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def change_counts(task_vars: dict) -> dict:
    facts = task_vars.get("ansible_facts") or {}
    counts = facts.get(CHANGES_FACT)
    return dict(counts) if isinstance(counts, dict) else {}


def counted_change(task_vars: dict, module_name: str) -> dict:
    """The facts an apply of ``module_name`` returns: the change counts, with its domains counted once more."""
    counts = change_counts(task_vars)
    for domain in DOMAINS.get(module_name, ()):
        counts[domain] = int(counts.get(domain, 0)) + 1
    return {CHANGES_FACT: counts}


def snapshot_of(value) -> dict | None:
    """The snapshot inside a registered host_snapshot result; None for a result of a skipped task."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SnapshotError("must be the registered result of pkiops.keyfactor_command.host_snapshot, "
                            f"not a {type(value).__name__}")
    if value.get("skipped"):
        return None
    snapshot = value.get("snapshot")
    if not (isinstance(snapshot, dict) and isinstance(snapshot.get("reads"), dict)
            and isinstance(snapshot.get("changes"), dict)):
        raise SnapshotError("must be the registered result of pkiops.keyfactor_command.host_snapshot; this one has no "
                            "'snapshot' with 'reads' and 'changes'")
    return snapshot


def lookup(snapshot: dict | None, task_vars: dict, module_name: str, probe_parameters: dict) -> dict | None:
    """What the snapshot read for this probe, or None when it did not read it or a change since makes it stale."""
    if snapshot is None:
        return None
    read = snapshot["reads"].get(read_key(module_name, probe_parameters))
    if not isinstance(read, dict) or read.get("module") != module_name or not isinstance(read.get("current"), dict):
        return None
    now = change_counts(task_vars)
    then = snapshot["changes"]
    if any(int(now.get(domain, 0)) != int(then.get(domain, 0)) for domain in DOMAINS.get(module_name, ())):
        return None
    return read["current"]
