"""The replay of probe results recorded on real Windows hosts (tests/recordings.py, tests/windows/README.md).

Recordings come from the Pester tests of tests/windows run with PKIOPS_RECORD=1.
Each one found under tests/windows/recorded is replayed to the controller's
planner and to the simulator's model. recording_examples/ holds hand-written
recordings, one or more per payload, as the payloads answer on Windows: they
prove the replay works before any real recording exists.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pathlib

import pytest

import recordings

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._definition import (
    Plan,
    PlanError,
    UnexpectedProbeResult,
)

EXAMPLES = pathlib.Path(__file__).resolve().parent / "recording_examples"
EXAMPLE_FILES = recordings.recording_files(EXAMPLES)
RECORDED_FILES = recordings.recording_files()
NO_RECORDINGS = pytest.param(None, marks=pytest.mark.skip(
    reason="no recordings yet under tests/windows/recorded: they come from real Windows hosts (tests/windows/README.md)"))


def _ids(paths):
    return [f"{path.parent.name}/{path.stem}" if path else "none" for path in paths]


def _example(name: str) -> recordings.Recording:
    return recordings.load(EXAMPLES / f"{name}.json")


def _changed(recording: recordings.Recording, result: dict) -> recordings.Recording:
    return dataclasses.replace(recording, result=result)


# --- shapes ------------------------------------------------------------------------------------------------------------


def test_values_may_differ_where_shapes_agree():
    recorded = {"found": True, "serial": "00AB", "acl": [{"sid": "S-1-5-18", "rights": -803274241}], "key": None}
    answered = {"found": False, "serial": "01", "acl": [{"sid": "S-1-5-20", "rights": 1179785}], "key": None}
    assert recordings.shape_differences(recorded, answered) == []


def test_a_key_missing_on_either_side_is_a_difference():
    assert recordings.shape_differences({"a": 1, "b": 2}, {"a": 1}) == ["result: keys only in the recording: b"]
    assert recordings.shape_differences({"a": 1}, {"a": 1, "c": 3}) == ["result: keys only in the model's answer: c"]


def test_a_different_json_type_is_a_difference_at_any_depth():
    assert recordings.shape_differences({"x": {"y": "text"}}, {"x": {"y": None}}) == [
        "result.x.y: the recording has a string, the model a null"]
    assert recordings.shape_differences({"x": [1]}, {"x": {"0": 1}}) == ["result.x: the recording has a list, the model a object"]


def test_a_boolean_is_not_a_number_but_integers_and_fractions_are_numbers():
    assert recordings.shape_differences({"n": True}, {"n": 1}) == ["result.n: the recording has a boolean, the model a number"]
    assert recordings.shape_differences({"n": 1}, {"n": 1.5}) == []


def test_list_elements_are_compared_by_shape_whatever_their_number_and_order():
    recorded = {"holders": [{"sid": "S-1-5-18", "name": "SYSTEM"}, {"sid": "S-1-5-20", "name": "NS"}, {"sid": "S-1-1-0", "name": "x"}]}
    answered = {"holders": [{"sid": "S-1-5-32-544", "name": "Administrators"}]}
    assert recordings.shape_differences(recorded, answered) == []


def test_a_list_element_of_a_shape_the_other_list_lacks_is_a_difference():
    recorded = {"holders": [{"sid": "S-1-5-18", "name": "SYSTEM"}]}
    answered = {"holders": [{"sid": "S-1-5-18", "name": "SYSTEM"}, {"sid": "S-1-5-20"}]}
    found = recordings.shape_differences(recorded, answered)
    assert found == ["result.holders[1] of the model's answer has no counterpart in the recording: "
                     "result.holders[1]: keys only in the recording: name"]


def test_an_empty_list_has_the_shape_of_any_list():
    assert recordings.shape_differences({"acl": []}, {"acl": [{"sid": "S-1-5-18"}]}) == []
    assert recordings.shape_differences({"acl": [{"sid": "S-1-5-18"}]}, {"acl": []}) == []


def test_json_type_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError):
        recordings.json_type(object())


# --- the recording format ---------------------------------------------------------------------------------------------


def _write(directory: pathlib.Path, document: dict, payload: str = "user_rights", case: str = "a-case") -> pathlib.Path:
    path = directory / payload / f"{case}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _document() -> dict:
    return json.loads((EXAMPLES / "user_rights" / "after-grant.json").read_text(encoding="utf-8"))


def test_an_example_loads_as_documented(tmp_path):
    document = dict(_document(), case="a-case")
    recording = recordings.load(_write(tmp_path, document))
    assert recording.payload == "user_rights"
    assert recording.parameters["Mode"] == "probe"
    assert recording.depth == 8


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("result"), "has no 'result'"),
    (lambda d: d.update(format=2), "format 2"),
    (lambda d: d.update(depth=True), "'depth' has the wrong type"),
    (lambda d: d.update(payload="iis_app_pools"), "records payload 'iis_app_pools' in the folder of 'user_rights'"),
    (lambda d: d.update(case="another"), "records case 'another'"),
    (lambda d: d["parameters"].update(Mode="apply"), "only probes are recorded"),
    (lambda d: d.update(result=None), "the probe's result is not a JSON object"),
    (lambda d: d.update(sensitive_parameters=[1]), "sensitive_parameters lists parameter names"),
], ids=["no result", "format", "depth type", "payload folder", "case file", "apply", "null result", "secret names"])
def test_load_refuses_a_recording_not_in_the_format(tmp_path, change, message):
    document = dict(_document(), case="a-case")
    change(document)
    with pytest.raises(recordings.RecordingError, match=message):
        recordings.load(_write(tmp_path, document))


# --- the examples: the replay works ------------------------------------------------------------------------------------


def test_every_payload_has_an_example_recording():
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import PAYLOAD_DIR

    payloads = {path.stem for path in pathlib.Path(PAYLOAD_DIR).glob("[!_]*.ps1")}
    assert {path.parent.name for path in EXAMPLE_FILES} == payloads
    assert set(recordings.PLANNERS) == payloads == set(recordings.SEEDERS)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=_ids(EXAMPLE_FILES))
def test_example_plans_without_finding_the_answer_malformed(path):
    outcome = recordings.plan_recording(recordings.load(path))
    assert isinstance(outcome, (Plan, PlanError, list))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=_ids(EXAMPLE_FILES))
def test_example_has_the_shape_of_the_models_answer(path):
    recording = recordings.load(path)
    assert recordings.shape_differences(recording.result, recordings.model_result(recording)) == []


def test_the_model_runs_on_a_host_where_the_recorded_accounts_resolve():
    recording = _example("user_rights/accounts-and-holders")
    answer = recordings.model_result(recording)
    assert [entry["sid"] for entry in answer["accounts"]] == [entry["sid"] for entry in recording.result["accounts"]]


def test_iis_passwords_are_replayed_for_the_pools_whose_password_was_compared():
    recording = _example("iis_app_pools/specific-user-password-compared")
    answer = recordings.model_result(recording)
    assert answer["pools"]["pkiops-1b2c3d4e5f60"]["password_matches"] is True


def test_host_snapshot_is_replayed_with_the_repositorys_payloads_compressed_again():
    recording = _example("host_snapshot/two-reads-and-one-without-script")
    assert set(recording.parameters["Scripts"].values()) == {recordings.SCRIPT_MARKER}
    answer = recordings.model_result(recording)
    assert answer["reads"][0]["error"] is None
    assert answer["reads"][2]["error"] == "No script was sent for the payload 'iis_app_pools'."


# --- the replay fails where it should -------------------------------------------------------------------------------


def test_a_recording_with_a_key_the_model_does_not_answer_is_found():
    recording = _example("cert_serial_registry/no-value-yet")
    result = copy.deepcopy(recording.result)
    result["registry"]["value_data_kind"] = "String"
    found = recordings.shape_differences(result, recordings.model_result(_changed(recording, result)))
    assert found == ["result.registry: keys only in the recording: value_data_kind"]


def test_a_recording_where_windows_answers_null_and_the_model_a_boolean_is_found():
    recording = _example("ca_certificates/installed")
    result = copy.deepcopy(recording.result)
    result["certificates"][0]["in_default_store"] = None
    found = recordings.shape_differences(result, recordings.model_result(recording))
    assert found and "the recording has a null, the model a boolean" in found[0]


@pytest.mark.parametrize("name, breaks", [
    ("user_rights/after-grant", lambda r: r.pop("holders")),
    ("iis_app_pools/created-pool", lambda r: r.pop("iis_installed")),
    ("pfx_import/after-import", lambda r: r.update(chain={})),
    ("private_key_acl/probe-capi", lambda r: r["certificate"].pop("found")),
    ("cert_serial_registry/dword-value", lambda r: r["certificate"].update(serial_number=None)),
    ("ca_certificates/installed", lambda r: r.update(certificates={})),
    ("cluster_generic_service_role/no-role", lambda r: r.pop("services")),
    ("readiness_info/full-read", lambda r: r.pop("paths")),
    ("host_snapshot/two-reads-and-one-without-script", lambda r: r["reads"].pop()),
], ids=lambda value: value if isinstance(value, str) else None)
def test_an_answer_the_planner_cannot_read_fails_the_replay(name, breaks):
    recording = _example(name)
    result = copy.deepcopy(recording.result)
    breaks(result)
    with pytest.raises(UnexpectedProbeResult):
        recordings.plan_recording(_changed(recording, result))


# --- the recordings made on real Windows hosts -----------------------------------------------------------------------


@pytest.mark.parametrize("path", RECORDED_FILES or [NO_RECORDINGS], ids=_ids(RECORDED_FILES) or ["none"])
def test_recording_plans_without_finding_the_answer_malformed(path):
    outcome = recordings.plan_recording(recordings.load(path))
    assert isinstance(outcome, (Plan, PlanError, list))


@pytest.mark.parametrize("path", RECORDED_FILES or [NO_RECORDINGS], ids=_ids(RECORDED_FILES) or ["none"])
def test_recording_has_the_shape_of_the_models_answer(path):
    recording = recordings.load(path)
    assert recordings.shape_differences(recording.result, recordings.model_result(recording)) == []
