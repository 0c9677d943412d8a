# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection plugin that presents a simulated Windows host to Ansible (test use only)."""

from __future__ import annotations

import json
import os
import sys

from ansible import __version__ as ansible_core_version
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
from winsim import host as simulated_host  # noqa: E402
from winsim.manifest import ManifestError, check_core_version  # noqa: E402
from winsim.state import computer_name_for  # noqa: E402

DOCUMENTATION = """
name: windows_sim
short_description: Run Windows modules against a simulated Windows host
description:
  - A test double. It presents itself as a Windows host (PowerShell shell, C(.ps1) modules, pipelining),
    decodes each module run from the exec-wrapper input, and answers it with a Python model that keeps the
    host's state in a JSON file.
  - Only modules and payloads the simulator models can run; anything else fails with a clear message.
author: pkiops maintainers (@pkiops)
options:
  remote_addr:
    description: The host name; its first label becomes the simulated computer name.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  state_file:
    description: The JSON state file of this host. It is created on first use and seeds the host when it exists.
    type: path
    required: true
    vars:
      - name: windows_sim_state_file
  cluster_state_file:
    description:
      - The JSON state file of the Failover Cluster this host is a node of, shared by all its nodes.
      - Leave it unset for a host that is not a cluster node.
    type: path
    vars:
      - name: windows_sim_cluster_state_file
"""

display = Display()


class Connection(ConnectionBase):
    """Simulated Windows host."""

    transport = "windows_sim"
    module_implementation_preferences = (".ps1", ".exe", "")
    allow_executable = False
    has_pipelining = True
    allow_extras = False

    def __init__(self, *args, **kwargs):
        self.always_pipeline_modules = True
        self.has_native_async = False
        self._shell_type = "powershell"
        super().__init__(*args, **kwargs)

    def _connect(self):
        check_core_version(ansible_core_version)
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        if not in_data:
            raise AnsibleError(
                "windows_sim runs pipelined modules and the collection's payload loader only, and this command "
                f"carried no input: {cmd[:120]!r}. A feature that needs a remote temp directory or file transfer is "
                "not simulated."
            )
        path = self.get_option("state_file")
        computer_name = computer_name_for(self.get_option("remote_addr") or "")
        display.vvv(f"WINDOWS_SIM EXEC against {path}", host=computer_name)
        try:
            result, output = simulated_host.execute(path, computer_name, in_data, self.get_option("cluster_state_file"),
                                                    command=cmd)
        except ManifestError as error:
            raise AnsibleError(f"windows_sim could not decode what ansible-core sent: {error}") from error
        except simulated_host.SimulatedConnectionFailure as error:
            raise AnsibleConnectionFailure(f"windows_sim: {error}") from error
        # As the winrm and psrp connections do: the host's output at -vvvvv, unless the task is no_log.
        display.vvvvv(f"WINDOWS_SIM STDOUT {'<censored due to no log>' if self._play_context.no_log else output}",
                      host=computer_name)
        return 0, json.dumps(result).encode(), b""

    def put_file(self, in_path, out_path):
        raise AnsibleError("windows_sim does not simulate file transfer (put_file)")

    def fetch_file(self, in_path, out_path):
        raise AnsibleError("windows_sim does not simulate file transfer (fetch_file)")

    def close(self):
        self._connected = False
