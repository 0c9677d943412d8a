"""Build action plugins the way the task executor does, with win_powershell replaced by a recorder."""

from __future__ import annotations

import copy
import json
from unittest.mock import MagicMock

import pytest

from ansible.plugins.shell.powershell import ShellModule as PowerShellShell
from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _windows_task
from winsim import transport
from winsim.win_powershell import failure_result, result_shape


class WinPowerShellReplay:
    """Stands in for ActionBase._execute_module: records each call, answers with the next queued reply.

    A reply is a win_powershell result dict, or an exception instance to raise.
    """

    def __init__(self):
        self.calls: list[dict] = []
        self.replies: list = []

    def queue(self, *replies) -> None:
        self.replies.extend(replies)

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append({"module_name": module_name, "module_args": copy.deepcopy(module_args), "task_vars": task_vars, **kwargs})
        if not self.replies:
            raise AssertionError(f"unexpected call #{len(self.calls)} of {module_name}")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return copy.deepcopy(reply)

    def low_level(self, cmd, sudoable=True, in_data=None, **kwargs):
        """Stands in for ActionBase._low_level_execute_command on the collection's loader: reads the run back from
        the loader's input as the simulator does, records it with win_powershell's option names, and answers with
        the runner's output line for the next queued reply."""
        assert transport.is_loader_command(cmd), f"not the collection's loader: {cmd[:80]!r}"
        run = transport.decode_input(in_data)
        module_args = dict(run.win_powershell_args(), error_action="stop")
        reply = self(module_name=_windows_task.RUNNER, module_args=module_args, task_vars=None,
                     check_mode=run.check_mode, sudoable=sudoable,
                     transport={"command": cmd, "input_lines": in_data.decode("ascii").splitlines()})
        return {"rc": 0, "stdout": json.dumps(transport.runner_output(reply)) + "\r\n", "stderr": ""}

    @property
    def modes(self) -> list[str]:
        return [call["module_args"]["parameters"]["Mode"] for call in self.calls]


def win_powershell_ok(result: dict, *, changed: bool = False, warnings: tuple = ()) -> dict:
    """What ansible.windows.win_powershell returns when the script ran to the end."""
    return result_shape(changed=changed, result=result, warnings=warnings)


def win_powershell_failed(message: str, *, type_name: str = "System.ComponentModel.Win32Exception", changed: bool = True) -> dict:
    """What ansible.windows.win_powershell returns when the script threw a terminating error."""
    return failure_result(message, type_name, changed=changed)


@pytest.fixture
def sleeps(monkeypatch) -> list:
    """Every delay the retry loop asks for, without waiting."""
    delays: list = []
    monkeypatch.setattr(_windows_task.time, "sleep", delays.append)
    return delays


@pytest.fixture
def make_action(monkeypatch, sleeps):
    """make_action(cls, args, check_mode=..., diff=...) -> (action, replay)."""

    def factory(cls, args: dict, *, check_mode: bool = False, diff: bool = False):
        task = MagicMock()
        task.args = args
        task.async_val = 0
        task.check_mode = check_mode
        task.diff = diff
        task.action = cls.definition.name
        # As a task without a loop or delegation has them; a MagicMock's would be truthy.
        task.loop, task.loop_with, task.delegate_to, task.run_once = None, None, None, False
        connection = MagicMock()
        connection._shell.tmpdir = None  # pylint: disable=protected-access
        connection._shell._encode_script = PowerShellShell()._encode_script  # pylint: disable=protected-access
        play_context = MagicMock()
        play_context.check_mode = check_mode
        play_context.diff = diff
        play_context.become, play_context.become_method, play_context.become_user = False, None, None
        action = cls(task, connection, play_context, loader=None, templar=None, shared_loader_obj=None)
        action._load_name = f"{_windows_task.COLLECTION}.{cls.definition.name}"  # pylint: disable=protected-access
        replay = WinPowerShellReplay()
        monkeypatch.setattr(action, "_execute_module", replay)
        monkeypatch.setattr(action, "_low_level_execute_command", replay.low_level)
        return action, replay

    return factory


@pytest.fixture(name="ps_ok")
def fixture_ps_ok():
    return win_powershell_ok


@pytest.fixture(name="ps_failed")
def fixture_ps_failed():
    return win_powershell_failed
