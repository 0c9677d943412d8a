"""The simulator's core: what it decodes, how its win_powershell stand-in behaves, its state and its principals."""

from __future__ import annotations

import base64
import gzip
import json
import pathlib

import pytest
from ansible import __version__ as ansible_core_version
from ansible.executor.powershell import module_manifest

from winsim import host as simulated_host
from winsim import models, win_powershell
from winsim.accounts import Directory, resolve_as_payload
from winsim.errors import HostError, IdentityNotMapped
from winsim.manifest import SEPARATOR, ManifestError, ModuleInvocation, check_core_version, decode
from winsim.state import REDACTED, complete, locked, redact, take_fault

REPO = pathlib.Path(__file__).resolve().parents[3]
WIN_POWERSHELL_PS1 = REPO / ".cache" / "collections" / "ansible_collections" / "ansible" / "windows" / "plugins" / "modules" / "win_powershell.ps1"
WIN_POWERSHELL_NAME = "ansible_collections.ansible.windows.plugins.modules.win_powershell"
USER_RIGHTS_PS1 = REPO / "plugins" / "plugin_utils" / "_powershell" / "user_rights.ps1"
SECRET = "Sup3r-Secret!Pa55"


def exec_wrapper_input(module_args: dict, *, async_timeout: int = 0, environment: dict | None = None) -> bytes:
    """What ansible-core 2.19 pipes to a Windows host to run ansible.windows.win_powershell."""
    return module_manifest._create_powershell_wrapper(  # pylint: disable=protected-access
        name=WIN_POWERSHELL_NAME,
        module_data=WIN_POWERSHELL_PS1.read_bytes(),
        module_path=str(WIN_POWERSHELL_PS1),
        module_args=module_args,
        environment=environment or {},
        async_timeout=async_timeout,
        become_plugin=None,
        substyle="powershell",
        task_vars={},
        profile="legacy",
    )


# === manifest =====================================================================================


def test_decode_names_the_module_it_carries():
    assert decode(exec_wrapper_input({"script": "Get-Date"})).name == "ansible.windows.win_powershell"


def test_decode_returns_the_module_arguments():
    args = {"script": "Get-Date", "parameters": {"Mode": "probe", "Rights": ["SeBackupPrivilege"]}, "depth": 8}
    invocation = decode(exec_wrapper_input(dict(args, _ansible_check_mode=False, _ansible_diff=False)))
    assert invocation.public_args() == args


@pytest.mark.parametrize("check_mode", [True, False])
def test_decode_reads_check_mode(check_mode):
    assert decode(exec_wrapper_input({"script": "Get-Date", "_ansible_check_mode": check_mode})).check_mode is check_mode


def test_decode_reads_diff_mode():
    assert decode(exec_wrapper_input({"script": "Get-Date", "_ansible_diff": True})).diff_mode is True


def test_decode_returns_the_module_source_and_no_become():
    invocation = decode(exec_wrapper_input({"script": "Get-Date"}))
    assert invocation.script == WIN_POWERSHELL_PS1.read_text(encoding="utf-8-sig")
    assert invocation.become is False


def test_decode_rejects_input_without_a_separator():
    with pytest.raises(ManifestError, match="separator"):
        decode(exec_wrapper_input({"script": "Get-Date"}).replace(SEPARATOR, b"\n"))


def test_decode_rejects_input_with_two_separators():
    with pytest.raises(ManifestError, match="separator"):
        decode(exec_wrapper_input({"script": "Get-Date"}) + SEPARATOR + b"{}")


def test_decode_rejects_garbage_json():
    with pytest.raises(ManifestError, match="not JSON"):
        decode(b"{this is not json" + SEPARATOR + b"{}")


def test_decode_rejects_a_bootstrap_that_does_not_run_exec_wrapper():
    with pytest.raises(ManifestError, match="exec_wrapper"):
        decode(json.dumps({"name": "something_else", "script": ""}).encode() + SEPARATOR + b"{}")


def test_decode_rejects_an_async_run():
    data = exec_wrapper_input({"script": "Get-Date"}, async_timeout=30, environment={"ANSIBLE_ASYNC_DIR": "C:\\async"})
    with pytest.raises(ManifestError, match="async_wrapper.ps1"):
        decode(data)


def test_check_core_version_rejects_another_release_line():
    with pytest.raises(ManifestError, match="2.20.0"):
        check_core_version("2.20.0")


@pytest.mark.parametrize("version", ["2.19.14", "2.19.0", "2.19"])
def test_check_core_version_accepts_2_19(version):
    check_core_version(version)


def test_check_core_version_does_not_mistake_2_190_for_2_19():
    with pytest.raises(ManifestError):
        check_core_version("2.190.0")


def test_the_installed_ansible_core_is_supported():
    check_core_version(ansible_core_version)


# === the win_powershell stand-in ==================================================================

ECHO_SCRIPT = """# pkiops-payload: unit_test_echo
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [string]$Mode,

    [string]$Name = '',

    [SecureString]$Secret,

    [PSCredential]$Credential,

    [string]$PlainText
)

$Ansible.Result = @{ mode = $Mode }
"""
NO_SHOULD_PROCESS_SCRIPT = ECHO_SCRIPT.replace("[CmdletBinding(SupportsShouldProcess)]", "[CmdletBinding()]")


class EchoModel:
    """A throwaway payload model: records each call and answers with ``respond``."""

    def __init__(self):
        self.calls: list = []
        self.respond = self.default_response

    @staticmethod
    def default_response(call) -> None:
        call.changed = False
        call.result = {"mode": call.mode}

    def __call__(self, call) -> None:
        self.calls.append(call)
        self.respond(call)


@pytest.fixture
def echo():
    model = EchoModel()
    models.payload_model("unit_test_echo")(model)
    yield model
    del models.PAYLOAD_MODELS["unit_test_echo"]


BENCH_MODELS = pathlib.Path(__file__).resolve().parents[2] / "bench" / "windows_sim_models.py"


@pytest.fixture(name="restore_models")
def fixture_restore_models(monkeypatch):
    """Puts the registered models back as they were after a test that loads a run's own."""
    payload_models = dict(models.PAYLOAD_MODELS)
    monkeypatch.setattr(models, "_LOADED_EXTRA", set())
    yield
    models.PAYLOAD_MODELS.clear()
    models.PAYLOAD_MODELS.update(payload_models)


def test_the_simulator_knows_only_the_collections_payloads_unless_a_run_brings_its_own(restore_models, monkeypatch):
    monkeypatch.delenv(models.EXTRA_MODELS_VARIABLE, raising=False)
    models.load_all()
    assert "bench_baseline_cluster_role" not in models.PAYLOAD_MODELS
    monkeypatch.setenv(models.EXTRA_MODELS_VARIABLE, str(BENCH_MODELS))
    models.load_all()
    models.load_all()
    assert "bench_baseline_cluster_role" in models.PAYLOAD_MODELS
    assert models.PAYLOAD_MODELS.get("bench_baseline_other") is None


def test_a_run_naming_a_models_file_that_is_not_there_fails(restore_models, monkeypatch, tmp_path):
    monkeypatch.setenv(models.EXTRA_MODELS_VARIABLE, str(tmp_path / "missing.py"))
    with pytest.raises(OSError):
        models.load_all()


def run_script(script: str, parameters: dict | None = None, *, check_mode: bool = False, diff_mode: bool = False,
               depth: int | None = None, sensitive: list | None = None, fault: dict | None = None) -> dict:
    args: dict = {"script": script, "_ansible_check_mode": check_mode, "_ansible_diff": diff_mode}
    if parameters is not None:
        args["parameters"] = parameters
    if depth is not None:
        args["depth"] = depth
    if sensitive is not None:
        args["sensitive_parameters"] = sensitive
    invocation = ModuleInvocation(name="ansible.windows.win_powershell", args=args, script="", become=False)
    return win_powershell.run(simulated_host.Host(complete({}, "KF01")), invocation, fault)


def exception_of(result: dict) -> dict:
    return result["error"][0]["exception"]


def test_a_script_runs_its_model_with_bound_parameters(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "probe", "Name": "x"})
    assert not result.get("failed")
    assert result["result"] == {"mode": "probe"}
    assert result["changed"] is False
    assert echo.calls[0].parameters == {"Mode": "probe", "Name": "x"}


def test_the_result_has_win_powershell_keys(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "probe"})
    assert set(result) >= {"changed", "result", "host_out", "host_err", "output", "error", "warning", "verbose", "debug", "information"}


def test_check_mode_skips_a_script_without_supports_should_process(echo):
    result = run_script(NO_SHOULD_PROCESS_SCRIPT, {"Mode": "apply"}, check_mode=True)
    assert result["changed"] is True
    assert result["msg"] == "skipped, running in check mode"
    assert not result.get("failed")
    assert echo.calls == []


def test_check_mode_runs_a_script_with_supports_should_process_as_whatif(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "apply"}, check_mode=True)
    assert not result.get("failed")
    assert len(echo.calls) == 1
    assert echo.calls[0].check_mode is True


def test_check_mode_runs_a_script_declaring_supports_should_process_equals_true_with_spaces(echo):
    script = ECHO_SCRIPT.replace("[CmdletBinding(SupportsShouldProcess)]", "[CmdletBinding(SupportsShouldProcess = $true)]")
    result = run_script(script, {"Mode": "apply"}, check_mode=True)
    assert len(echo.calls) == 1
    assert "msg" not in result


def test_an_unknown_parameter_name_fails_as_powershell_does(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "probe", "Nmae": "x"})
    assert result["failed"] is True
    assert exception_of(result)["message"] == "A parameter cannot be found that matches parameter name 'Nmae'."
    assert exception_of(result)["type"] == "System.Management.Automation.ParameterBindingException"
    assert echo.calls == []


def test_a_missing_mandatory_parameter_fails(echo):
    result = run_script(ECHO_SCRIPT, {"Name": "x"})
    assert result["failed"] is True
    assert exception_of(result)["message"] == "Cannot process command because of one or more missing mandatory parameters: Mode."
    assert echo.calls == []


def test_parameter_names_bind_case_insensitively_to_the_declared_names(echo):
    result = run_script(ECHO_SCRIPT, {"mODE": "probe", "name": "x"})
    assert not result.get("failed")
    assert echo.calls[0].parameters == {"Mode": "probe", "Name": "x"}


def test_a_sensitive_parameter_bound_to_a_string_parameter_fails(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "probe"}, sensitive=[{"name": "PlainText", "value": SECRET}])
    assert result["failed"] is True
    assert exception_of(result)["message"].startswith("Cannot bind sensitive parameter 'PlainText'")
    assert "[string]" in exception_of(result)["message"]
    assert echo.calls == []


def test_a_sensitive_parameter_binds_to_a_securestring_parameter(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "probe"}, sensitive=[{"name": "secret", "value": SECRET}])
    assert not result.get("failed")
    assert echo.calls[0].parameters["Secret"] == SECRET


def test_a_sensitive_credential_binds_to_a_pscredential_parameter(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "probe"}, sensitive=[{"name": "Credential", "username": "CONTOSO\\svc", "password": SECRET}])
    assert not result.get("failed")
    assert echo.calls[0].parameters["Credential"] == win_powershell.Credential("CONTOSO\\svc", SECRET)


def test_a_sensitive_parameter_the_script_does_not_declare_fails(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "probe"}, sensitive=[{"name": "Password", "value": SECRET}])
    assert result["failed"] is True
    assert exception_of(result)["message"] == "A parameter cannot be found that matches parameter name 'Password'."


def test_depth_flattens_a_result_nested_deeper_than_depth(echo):
    echo.respond = lambda call: setattr(call, "result", {"a": {"b": {"c": {"d": 1}}}})
    result = run_script(ECHO_SCRIPT, {"Mode": "probe"}, depth=2)
    assert result["result"] == {"a": {"b": {"c": "System.Collections.Hashtable"}}}


def test_depth_defaults_to_two_as_win_powershell_does(echo):
    echo.respond = lambda call: setattr(call, "result", {"a": {"b": {"c": {"d": 1}}}})
    assert run_script(ECHO_SCRIPT, {"Mode": "probe"})["result"] == {"a": {"b": {"c": "System.Collections.Hashtable"}}}


def test_depth_keeps_a_result_that_fits(echo):
    echo.respond = lambda call: setattr(call, "result", {"a": {"b": {"c": {"d": 1}}}})
    assert run_script(ECHO_SCRIPT, {"Mode": "probe"}, depth=3)["result"] == {"a": {"b": {"c": {"d": 1}}}}


def test_a_list_below_depth_becomes_its_space_joined_string_form():
    assert win_powershell.to_output({"a": [1, "two", {"x": 1}]}, 0) == {"a": "1 two System.Collections.Hashtable"}


def test_depth_never_flattens_scalars():
    assert [win_powershell.to_output(v, -1) for v in (1, 1.5, True, "text", None)] == [1, 1.5, True, "text", None]


def test_an_untagged_script_fails_loudly(echo):
    result = run_script(ECHO_SCRIPT.split("\n", 1)[1], {"Mode": "probe"})
    assert result["failed"] is True
    assert "no model" in result["msg"]
    assert echo.calls == []


def test_a_script_with_an_unknown_tag_fails_loudly(echo):
    result = run_script(ECHO_SCRIPT.replace("unit_test_echo", "nobody_models_this"), {"Mode": "probe"})
    assert result["failed"] is True
    assert "'nobody_models_this'" in result["msg"]
    assert echo.calls == []


def test_a_script_that_does_not_parse_fails_with_a_parse_exception(echo):
    result = run_script(ECHO_SCRIPT + "\nif ($true) {\n", {"Mode": "probe"})
    assert result["failed"] is True
    assert exception_of(result)["type"] == "System.Management.Automation.ParseException"
    assert echo.calls == []


def test_a_model_raising_host_error_fails_with_windows_message(echo):
    def deny(call):
        raise HostError("Access is denied", "System.UnauthorizedAccessException")

    echo.respond = deny
    result = run_script(ECHO_SCRIPT, {"Mode": "apply"})
    assert result["failed"] is True
    assert exception_of(result)["message"] == "Access is denied"
    assert exception_of(result)["type"] == "System.UnauthorizedAccessException"


def test_a_failed_script_reports_what_it_set_changed_to(echo):
    def fail_before_changing(call):
        call.changed = False
        raise HostError("Access is denied")

    echo.respond = fail_before_changing
    assert run_script(ECHO_SCRIPT, {"Mode": "apply"})["changed"] is False


def test_a_failed_script_is_changed_by_default_as_win_powershell_is(echo):
    def fail(call):
        raise HostError("Access is denied")

    echo.respond = fail
    assert run_script(ECHO_SCRIPT, {"Mode": "apply"})["changed"] is True


def test_an_injected_error_fault_fails_before_the_model_runs(echo):
    result = run_script(ECHO_SCRIPT, {"Mode": "apply"}, fault={"error": "The RPC server is unavailable"})
    assert result["failed"] is True
    assert exception_of(result)["message"] == "The RPC server is unavailable"
    assert echo.calls == []


def test_the_diff_is_returned_only_in_diff_mode(echo):
    echo.respond = lambda call: setattr(call, "diff", {"before": {"a": 1}, "after": {"a": 2}})
    assert "diff" not in run_script(ECHO_SCRIPT, {"Mode": "probe"})
    assert run_script(ECHO_SCRIPT, {"Mode": "probe"}, diff_mode=True)["diff"] == {"before": {"a": 1}, "after": {"a": 2}}


# === state ========================================================================================


def test_complete_fills_an_empty_state_with_the_documented_defaults():
    state = complete({}, "KF01")
    assert set(state) == {"host", "domain", "local_accounts", "local_groups", "user_rights", "features", "paths", "services", "_sim"}
    assert state["_sim"] == {"round_trips": 0, "log": [], "faults": []}
    assert state["host"]["computer_name"] == "KF01"
    assert set(state["host"]) == {"computer_name", "machine_sid", "os_name", "os_version", "powershell_version"}
    assert state["domain"]["netbios_name"] == "CONTOSO"
    assert state["domain"]["dns_name"] == "contoso.com"


def test_complete_gives_the_fresh_server_default_rights():
    state = complete({}, "KF01")
    assert state["user_rights"]["SeServiceLogonRight"] == ["S-1-5-80-0"]
    assert state["user_rights"]["SeDebugPrivilege"] == ["S-1-5-32-544"]


def test_complete_creates_the_builtin_local_accounts_under_the_machine_sid():
    state = complete({}, "KF01")
    machine_sid = state["host"]["machine_sid"]
    assert {a["name"]: a["sid"] for a in state["local_accounts"]}["Administrator"] == f"{machine_sid}-500"


def test_complete_keeps_seeded_values_and_fills_the_rest():
    state = complete({"host": {"computer_name": "kf02", "os_version": "10.0.17763.0"}, "user_rights": {}}, "IGNORED")
    assert state["host"]["computer_name"] == "KF02"
    assert state["host"]["os_version"] == "10.0.17763.0"
    assert state["host"]["machine_sid"].startswith("S-1-5-21-")
    assert state["user_rights"] == {}


def test_complete_is_idempotent():
    once = complete({}, "KF01")
    assert complete(json.loads(json.dumps(once)), "KF01") == once


def test_complete_gives_seeded_domain_accounts_a_sid():
    state = complete({"domain": {"accounts": [{"name": "svc_keyfactor"}]}}, "KF01")
    assert {a["name"]: a["sid"] for a in state["domain"]["accounts"]}["svc_keyfactor"] == f"{state['domain']['sid']}-1100"


def test_complete_always_adds_the_domain_groups():
    state = complete({"domain": {"accounts": [{"name": "svc_keyfactor"}]}}, "KF01")
    sids = {a["name"]: a["sid"] for a in state["domain"]["accounts"]}
    assert sids["Domain Admins"] == f"{state['domain']['sid']}-512"
    assert sids["Domain Users"] == f"{state['domain']['sid']}-513"


def test_complete_never_gives_two_domain_accounts_the_same_sid():
    seed = {"domain": {"sid": "S-1-5-21-1-2-3", "accounts": [{"name": "svc_a", "sid": "S-1-5-21-1-2-3-1100"}, {"name": "svc_b"}]}}
    sids = [a["sid"] for a in complete(seed, "KF01")["domain"]["accounts"]]
    assert len(set(sids)) == len(sids)


def fault_state(*faults: dict) -> dict:
    return {"_sim": {"faults": [dict(f) for f in faults]}}


def fired(state: dict, facts: dict, calls: int) -> list[bool]:
    return [take_fault(state, facts) is not None for _call in range(calls)]


def test_take_fault_fires_on_the_first_matching_call_only_by_default():
    assert fired(fault_state({"match": {}}), {"mode": "apply"}, 3) == [True, False, False]


def test_take_fault_fires_from_the_nth_call_for_times_calls():
    assert fired(fault_state({"match": {}, "nth": 2, "times": 2}), {"mode": "apply"}, 5) == [False, True, True, False, False]


def test_take_fault_counts_only_calls_that_match_every_key():
    state = fault_state({"match": {"payload": "user_rights", "mode": "apply"}, "nth": 2})
    assert take_fault(state, {"payload": "user_rights", "mode": "probe"}) is None
    assert take_fault(state, {"payload": "other", "mode": "apply"}) is None
    assert take_fault(state, {"payload": "user_rights", "mode": "apply"}) is None
    assert take_fault(state, {"payload": "user_rights", "mode": "apply"}) is not None
    assert state["_sim"]["faults"][0]["seen"] == 2


def test_take_fault_returns_the_fault_and_counts_when_it_fired():
    state = fault_state({"match": {"mode": "apply"}, "error": "boom"})
    fault = take_fault(state, {"mode": "apply"})
    assert fault["error"] == "boom"
    assert fault["fired"] == 1


def test_take_fault_fires_one_fault_per_call_but_counts_the_call_against_every_match():
    state = fault_state({"match": {}, "error": "first"}, {"match": {}, "error": "second"})
    assert take_fault(state, {})["error"] == "first"
    assert [f["seen"] for f in state["_sim"]["faults"]] == [1, 1]
    assert take_fault(state, {}) is None


def test_redact_replaces_a_secret_inside_longer_strings_in_nested_structures():
    value = {"args": {"parameters": [{"note": f"pw={SECRET};"}, SECRET]}, "n": 3}
    assert redact(value, [SECRET]) == {"args": {"parameters": [{"note": f"pw={REDACTED};"}, REDACTED]}, "n": 3}


def test_redact_replaces_the_longest_secret_first():
    assert redact("abcdef", ["abc", "abcdef"]) == REDACTED


def test_redact_ignores_empty_secrets_and_leaves_its_input_alone():
    value = {"a": ["text"]}
    assert redact(value, [""]) == {"a": ["text"]}
    redacted = redact(value, ["text"])
    assert value == {"a": ["text"]}
    assert redacted == {"a": [REDACTED]}


def test_locked_completes_a_missing_file_and_saves_changes(tmp_path):
    path = tmp_path / "hosts" / "kf01.json"
    with locked(str(path), "KF01") as state:
        state["user_rights"]["SeBatchLogonRight"] = ["S-1-5-20"]
    saved = json.loads(path.read_text())
    assert saved["user_rights"]["SeBatchLogonRight"] == ["S-1-5-20"]
    assert saved["host"]["computer_name"] == "KF01"


def test_locked_saves_the_state_even_when_the_call_fails(tmp_path):
    path = tmp_path / "kf01.json"
    with pytest.raises(RuntimeError):
        with locked(str(path), "KF01") as state:
            state["_sim"]["round_trips"] += 1
            raise RuntimeError("the model failed part way")
    assert json.loads(path.read_text())["_sim"]["round_trips"] == 1


# === accounts =====================================================================================


@pytest.fixture
def directory() -> Directory:
    return Directory(complete({"domain": {"accounts": [{"name": "svc_keyfactor", "type": "user"}]}}, "KF01"))


def test_local_administrator_resolves_from_every_spelling_windows_knows(directory):
    by_sid = directory.resolve(f"{directory.machine_sid}-500")
    assert directory.resolve("KF01\\administrator") == directory.resolve("Administrator") == by_sid
    assert by_sid.name == "KF01\\Administrator"


def test_dot_backslash_is_not_a_domain_windows_knows(directory):
    # NTAccount.Translate has no '.' shorthand; the payloads and modules expand it themselves.
    with pytest.raises(IdentityNotMapped):
        directory.resolve(".\\Administrator")


def test_network_service_resolves_from_every_spelling(directory):
    expected = directory.resolve("S-1-5-20")
    assert directory.resolve("NT AUTHORITY\\NETWORK SERVICE") == directory.resolve("network service") == expected
    assert expected.name == "NT AUTHORITY\\NETWORK SERVICE"


def test_a_upn_resolves_to_the_seeded_domain_account(directory):
    principal = directory.resolve("svc_keyfactor@contoso.com")
    assert principal.name == "CONTOSO\\svc_keyfactor"
    assert principal == directory.resolve("CONTOSO\\svc_keyfactor")


def test_a_bare_users_resolves_to_the_builtin_group(directory):
    principal = directory.resolve("Users")
    assert (principal.name, principal.sid) == ("BUILTIN\\Users", "S-1-5-32-545")


def test_an_unknown_name_is_not_mapped(directory):
    with pytest.raises(IdentityNotMapped, match="Some or all identity references could not be translated."):
        directory.resolve("CONTOSO\\nobody")


def test_an_unknown_bare_name_is_not_mapped(directory):
    with pytest.raises(IdentityNotMapped):
        directory.resolve("nobody")


def test_an_unknown_but_well_formed_sid_resolves(directory):
    principal = directory.resolve("s-1-5-21-9-9-9-1234")
    assert principal.sid == "S-1-5-21-9-9-9-1234"
    assert principal.kind == "unknown"


def test_a_malformed_sid_fails_as_the_sid_constructor_does(directory):
    with pytest.raises(HostError) as raised:
        directory.resolve("S-1-5-x")
    assert raised.value.type_name == "System.ArgumentException"


@pytest.mark.parametrize("sid, canonical", [
    ("S-1-5-32-0544", "S-1-5-32-544"), ("s-1-005-20", "S-1-5-20"), ("S-1-5-21-1-2-3-4294967295", "S-1-5-21-1-2-3-4294967295")])
def test_a_sid_resolves_in_its_canonical_spelling(directory, sid, canonical):
    assert directory.resolve(sid).sid == canonical


@pytest.mark.parametrize("sid", ["S-1-5-21-1-2-3-4294967296", "S-1-281474976710656-1",
                                 "S-1-5-" + "-".join(["1"] * 16), "S-1-5-", "S-1-5-20\n"])
def test_a_sid_out_of_range_or_too_long_fails_as_the_sid_constructor_does(directory, sid):
    with pytest.raises(HostError) as raised:
        directory.resolve(sid)
    assert raised.value.type_name == "System.ArgumentException"


def test_a_name_with_surrounding_spaces_is_looked_up_as_written(directory):
    # LookupAccountName does not trim; neither do the payloads.
    with pytest.raises(IdentityNotMapped):
        directory.resolve(" Administrator ")


def test_name_of_an_unknown_sid_is_the_sid(directory):
    assert directory.name_of("s-1-5-21-9-9-9-1234") == "S-1-5-21-9-9-9-1234"


def test_name_of_a_known_sid_is_its_windows_name(directory):
    assert directory.name_of("S-1-5-32-544") == "BUILTIN\\Administrators"


# === host.execute end to end ======================================================================


def user_rights_input(parameters: dict, *, check_mode: bool = False, sensitive: list | None = None) -> bytes:
    args = {"script": USER_RIGHTS_PS1.read_text(encoding="utf-8"), "parameters": parameters, "depth": 8, "error_action": "stop",
            "_ansible_check_mode": check_mode, "_ansible_diff": False}
    if sensitive is not None:
        args["sensitive_parameters"] = sensitive
    return exec_wrapper_input(args)


PROBE = {"Mode": "probe", "Rights": ["SeServiceLogonRight"], "Accounts": ["NT AUTHORITY\\NETWORK SERVICE", "CONTOSO\\nobody"]}
TWO_ADDS = {"Mode": "apply", "Operations": [{"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-20"},
                                            {"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-19"}]}


@pytest.fixture
def state_path(tmp_path) -> pathlib.Path:
    return tmp_path / "kf01.json"


def seed(path: pathlib.Path, *faults: dict) -> None:
    path.write_text(json.dumps({"_sim": {"faults": list(faults)}}))


def saved(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


def test_execute_runs_the_probe_and_returns_its_result(state_path):
    result = simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    assert not result.get("failed")
    assert result["result"]["holders"] == {"SeServiceLogonRight": [{"sid": "S-1-5-80-0", "name": "NT SERVICE\\ALL SERVICES"}]}
    resolved = [(a["input"], a["sid"]) for a in result["result"]["accounts"]]
    assert resolved == [("NT AUTHORITY\\NETWORK SERVICE", "S-1-5-20"), ("CONTOSO\\nobody", None)]


def test_execute_writes_the_state_file(state_path):
    simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    assert saved(state_path)["host"]["computer_name"] == "KF01"


def test_execute_counts_round_trips(state_path):
    simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    assert saved(state_path)["_sim"]["round_trips"] == 2


def test_execute_logs_the_payload_and_mode_of_each_call(state_path):
    simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    simulated_host.execute(str(state_path), "KF01", user_rights_input(TWO_ADDS))[0]
    log = saved(state_path)["_sim"]["log"]
    assert [(e["n"], e["module"], e["payload"], e["mode"], e["check_mode"]) for e in log] == [
        (1, "ansible.windows.win_powershell", "user_rights", "probe", False),
        (2, "ansible.windows.win_powershell", "user_rights", "apply", False),
    ]
    assert log[0]["args"]["parameters"] == PROBE
    assert log[1]["result"] == {"changed": True}


def test_execute_logs_the_script_size_instead_of_its_text(state_path):
    simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    assert saved(state_path)["_sim"]["log"][0]["args"]["script"] == f"<{len(USER_RIGHTS_PS1.read_text(encoding='utf-8'))} characters>"


def test_execute_applies_operations_to_the_state(state_path):
    result = simulated_host.execute(str(state_path), "KF01", user_rights_input(TWO_ADDS))[0]
    assert result["changed"] is True
    assert saved(state_path)["user_rights"]["SeServiceLogonRight"] == ["S-1-5-80-0", "S-1-5-20", "S-1-5-19"]


def test_execute_in_check_mode_changes_nothing(state_path):
    simulated_host.execute(str(state_path), "KF01", user_rights_input(TWO_ADDS, check_mode=True))[0]
    assert saved(state_path)["user_rights"]["SeServiceLogonRight"] == ["S-1-5-80-0"]


def test_an_injected_connection_fault_raises_simulated_connection_failure(state_path):
    seed(state_path, {"match": {"payload": "user_rights", "mode": "apply"}, "kind": "connection"})
    simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    with pytest.raises(simulated_host.SimulatedConnectionFailure):
        simulated_host.execute(str(state_path), "KF01", user_rights_input(TWO_ADDS))[0]
    assert saved(state_path)["user_rights"]["SeServiceLogonRight"] == ["S-1-5-80-0"]


def test_a_connection_fault_that_fires_once_lets_the_next_call_through(state_path):
    seed(state_path, {"match": {"payload": "user_rights", "mode": "probe"}, "kind": "connection"})
    with pytest.raises(simulated_host.SimulatedConnectionFailure):
        simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    assert not simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0].get("failed")
    assert saved(state_path)["_sim"]["round_trips"] == 2


def test_a_connection_fault_is_counted_and_logged_in_the_state_file(state_path):
    seed(state_path, {"match": {"payload": "user_rights"}, "kind": "connection", "error": "connection reset by peer"})
    with pytest.raises(simulated_host.SimulatedConnectionFailure, match="connection reset by peer"):
        simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]
    sim = saved(state_path)["_sim"]
    assert (sim["faults"][0]["seen"], sim["faults"][0]["fired"]) == (1, 1)
    assert sim["log"][0]["result"] == {"connection_failure": "connection reset by peer"}


def test_a_reply_lost_fault_lets_the_host_apply_and_then_drops_the_connection(state_path):
    seed(state_path, {"match": {"payload": "user_rights", "mode": "apply"}, "kind": "reply_lost", "error": "reset"})
    with pytest.raises(simulated_host.SimulatedConnectionFailure, match="reset"):
        simulated_host.execute(str(state_path), "KF01", user_rights_input(TWO_ADDS))[0]
    sim = saved(state_path)
    assert sim["user_rights"]["SeServiceLogonRight"] == ["S-1-5-80-0", "S-1-5-20", "S-1-5-19"], "the host made the change"
    assert sim["_sim"]["log"][0]["result"] == {"changed": True, "reply_lost": "reset"}


def test_an_unknown_fault_kind_fails_loudly_instead_of_being_ignored(state_path):
    seed(state_path, {"match": {"payload": "user_rights"}, "kind": "reply-lost"})
    with pytest.raises(ValueError, match="unknown fault kind 'reply-lost'"):
        simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]


@pytest.mark.parametrize("operation, message", [
    ({"right": "SeServiceLogonRight", "action": "add", "sid": "NT AUTHORITY\\NETWORK SERVICE"},
     "sid must be a SID string such as S-1-5-20"),
    ({"right": "SeServiceLogonRight", "action": "grant", "sid": "S-1-5-20"}, "action must be 'add' or 'remove'"),
    ({"right": "", "action": "add", "sid": "S-1-5-20"}, "right is empty"),
    ({"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-21-1-2-3-4294967296"}, "Value was invalid"),
])
def test_the_lsa_model_refuses_what_the_payload_refuses_before_any_change(state_path, operation, message):
    # The bad operation comes second: the payload checks every operation before the first change.
    first = {"right": "SeServiceLogonRight", "action": "add", "sid": "S-1-5-19"}
    result = simulated_host.execute(str(state_path), "KF01", user_rights_input({"Mode": "apply", "Operations": [first, operation]}))[0]
    assert result["failed"] is True and result["changed"] is False
    assert message in result["error"][0]["exception"]["message"]
    assert saved(state_path)["user_rights"]["SeServiceLogonRight"] == ["S-1-5-80-0"]


def test_a_sid_with_leading_zeros_is_the_same_holder_not_a_new_one(state_path):
    operations = [{"right": "SeBackupPrivilege", "action": "add", "sid": "S-1-5-32-0544"}]
    result = simulated_host.execute(str(state_path), "KF01", user_rights_input({"Mode": "apply", "Operations": operations}))[0]
    assert not result.get("failed")
    assert saved(state_path)["user_rights"]["SeBackupPrivilege"].count("S-1-5-32-544") == 1
    assert "S-1-5-32-0544" not in json.dumps(saved(state_path)["user_rights"])


def test_a_fault_after_one_operation_applies_exactly_one_and_fails(state_path):
    seed(state_path, {"match": {"payload": "user_rights", "mode": "apply"}, "after_operations": 1,
                      "error": "Insufficient system resources exist to complete the requested service"})
    result = simulated_host.execute(str(state_path), "KF01", user_rights_input(TWO_ADDS))[0]
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["error"][0]["exception"]["message"] == "Insufficient system resources exist to complete the requested service"
    assert saved(state_path)["user_rights"]["SeServiceLogonRight"] == ["S-1-5-80-0", "S-1-5-20"]


def test_sensitive_parameters_never_reach_the_log_or_the_result(state_path):
    data = user_rights_input(PROBE, sensitive=[{"name": "Password", "value": SECRET}])
    result = simulated_host.execute(str(state_path), "KF01", data)[0]
    assert result["failed"] is True
    assert SECRET not in json.dumps(result)
    assert SECRET not in state_path.read_text()
    assert saved(state_path)["_sim"]["log"][0]["args"]["sensitive_parameters"] == [{"name": "Password", "value": REDACTED}]


def test_execute_rejects_input_it_cannot_decode(state_path):
    with pytest.raises(ManifestError):
        simulated_host.execute(str(state_path), "KF01", b"garbage")


def test_the_probe_resolves_a_local_group_written_as_dot_backslash_name(state_path):
    result = simulated_host.execute(str(state_path), "KF01", user_rights_input({"Mode": "probe", "Accounts": [".\\Administrators"]}))[0]
    assert result["result"]["accounts"] == [{"input": ".\\Administrators", "sid": "S-1-5-32-544", "name": "BUILTIN\\Administrators",
                                             "error": None}]


# === host_snapshot: several payloads' probes in one run ===========================================================


HOST_SNAPSHOT_PS1 = REPO / "plugins" / "plugin_utils" / "_powershell" / "host_snapshot.ps1"


def compressed(script: str) -> str:
    return base64.b64encode(gzip.compress(script.encode("utf-8"))).decode("ascii")


def host_snapshot_input(scripts: dict, reads: list, *, check_mode: bool = False) -> bytes:
    encoded = {name: compressed(script) if isinstance(script, str) else script.decode("ascii") for name, script in scripts.items()}
    return exec_wrapper_input({"script": HOST_SNAPSHOT_PS1.read_text(encoding="utf-8"),
                               "parameters": {"Mode": "probe", "Scripts": encoded, "Reads": reads}, "depth": 11,
                               "error_action": "stop", "_ansible_check_mode": check_mode, "_ansible_diff": False})


def test_a_snapshot_answers_each_read_as_its_payload_alone_in_one_round_trip(state_path):
    alone = simulated_host.execute(str(state_path), "KF01", user_rights_input(PROBE))[0]["result"]
    parameters = {k: v for k, v in PROBE.items() if k != "Mode"}
    scripts = {"user_rights": USER_RIGHTS_PS1.read_text(encoding="utf-8")}
    result = simulated_host.execute(str(state_path), "KF01", host_snapshot_input(
        scripts, [{"module": "user_rights", "parameters": parameters},
                  {"module": "user_rights", "parameters": {"Rights": ["SeNoSuchRight"]}},
                  {"module": "iis_app_pools", "parameters": {}}], check_mode=True))[0]
    assert not result.get("failed") and result["changed"] is False
    first, unknown_right, no_script = result["result"]["reads"]
    assert first == {"result": alone, "error": None}
    assert unknown_right["result"] is None and unknown_right["error"] == "A specified privilege does not exist"
    assert no_script["error"] == "No script was sent for the payload 'iis_app_pools'."
    logged = saved(state_path)["_sim"]
    assert logged["round_trips"] == 2
    assert logged["log"][-1]["reads"] == ["user_rights", "user_rights", "iis_app_pools"]


def test_a_snapshot_refuses_a_script_sent_under_another_name(state_path):
    result = simulated_host.execute(str(state_path), "KF01", host_snapshot_input(
        {"iis_app_pools": USER_RIGHTS_PS1.read_text(encoding="utf-8")}, [{"module": "iis_app_pools", "parameters": {}}]))[0]
    (read,) = result["result"]["reads"]
    assert read["result"] is None and "tag 'user_rights'" in read["error"]


@pytest.mark.parametrize("encoded, message", [
    (b"not base64!", 'Exception calling "FromBase64String" with "1" argument(s): "The input is not a valid Base-64 string'),
    (base64.b64encode(b"plain text, not gzip"),
     'Exception calling "ReadToEnd" with "0" argument(s): "The magic number in GZip header is not correct.'),
    (base64.b64encode(gzip.compress(b"cut short", mtime=0)[:-6]),
     'Exception calling "ReadToEnd" with "0" argument(s): "Found invalid data while decoding."'),
])
def test_a_snapshot_fails_whole_on_a_script_that_does_not_decode(state_path, encoded, message):
    result = simulated_host.execute(str(state_path), "KF01", host_snapshot_input(
        {"user_rights": encoded}, [{"module": "user_rights", "parameters": {}}]))[0]
    assert result["failed"] is True
    assert result["error"][0]["exception"]["message"].startswith(message)
    assert result["error"][0]["exception"]["type"] == "System.Management.Automation.MethodInvocationException"


def test_a_snapshot_fails_whole_on_a_script_that_does_not_parse(state_path):
    result = simulated_host.execute(str(state_path), "KF01", host_snapshot_input(
        {"user_rights": "# pkiops-payload: user_rights\nparam(\n"}, [{"module": "user_rights", "parameters": {}}]))[0]
    assert result["failed"] is True
    assert result["error"][0]["exception"]["message"].startswith('Exception calling "Create" with "1" argument(s)')


# === a Windows in another language ================================================================================


@pytest.fixture
def german() -> Directory:
    return Directory(complete({"host": {"ui_language": "de-DE"}}, "KF01"))


def test_a_german_windows_names_the_builtin_domain_and_its_groups_in_german(german):
    assert german.builtin_domain == "VORDEFINIERT"
    assert german.name_of("S-1-5-32-544") == "VORDEFINIERT\\Administratoren"
    assert german.name_of("S-1-5-20") == "NT-AUTORITÄT\\NETZWERKDIENST"
    assert german.resolve("VORDEFINIERT\\Administratoren").sid == "S-1-5-32-544"
    with pytest.raises(IdentityNotMapped):
        german.resolve("BUILTIN\\Administratoren")


@pytest.mark.parametrize("reference", [".\\Administratoren", "KF01\\Administratoren", "kf01\\administratoren",
                                       "BUILTIN\\Administratoren"])
def test_the_payloads_find_a_local_group_in_the_localised_builtin_domain(german, reference):
    # COMPUTER\name of a built-in group is retried in the built-in domain, by the name Windows gives it in its language.
    principal = resolve_as_payload(german, reference)
    assert (principal.sid, principal.name) == ("S-1-5-32-544", "VORDEFINIERT\\Administratoren")


def test_builtin_as_written_in_english_finds_iis_iusrs_on_a_german_windows(german):
    # IIS_IUSRS keeps its English name everywhere; only its domain is localised.
    assert resolve_as_payload(german, "BUILTIN\\IIS_IUSRS").sid == "S-1-5-32-568"


def test_an_english_windows_keeps_builtin():
    directory = Directory(complete({}, "KF01"))
    assert directory.builtin_domain == "BUILTIN"
    assert resolve_as_payload(directory, ".\\IIS_IUSRS").name == "BUILTIN\\IIS_IUSRS"
