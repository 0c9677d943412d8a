"""The performance targets of make bench (docs/performance.md), on the same figures tools/bench.py prints.

Our roles and the stock-module baselines (tests/bench/baseline) run against identically seeded simulated hosts;
the simulator counts round trips and bytes exactly. Controller time is measured on 1 and 10 Management Portal
servers here (make bench adds 50), as the ratio ours / baseline of the CPU time of the ansible-playbook process
tree, alternating the sides.
"""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools"))

import bench  # noqa: E402  pylint: disable=wrong-import-position

PROFILES = ("portal", "services", "web_api", "orchestrator_api", "ca_connector", "gateway_cluster_node")
STEADY_ROUND_TRIP_RATIO = 0.5
SITE_FIRST_RUN_ROUND_TRIP_RATIO = 0.5
CONTROLLER_TIME_RATIO = 1.2

# The one target of issue 9 not reached (docs/performance.md, "Targets") stays asserted at the target as a strict
# expected failure, so that reaching it turns the run red until the mark is removed. What is reached is held
# tighter than the targets by the guards at the end, so that losing part of it fails too.
NOT_REACHED = ("not reached: the first run makes one round trip per change, and reaching half the baseline needs "
               "changes batched across tasks; see docs/performance.md")
REACHED_STEADY_BYTES_RATIO = 0.25
REACHED_FIRST_RUN_BYTES_RATIO = 0.6
# What a site's run may send, against the baseline: no more on the first run, at most half in steady state.
SITE_FIRST_RUN_BYTES_RATIO = 1.0
SITE_STEADY_BYTES_RATIO = 0.5
REACHED_STEADY_ROUND_TRIP_RATIO = 0.35
REACHED_SITE_FIRST_RUN_ROUND_TRIP_RATIO = 1.0


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    runs = bench.measure_site(tmp_path_factory.mktemp("bench") / "site")
    _lines, values = bench.site_figures(runs)
    return runs, values


def _misses(values: dict, run: str, figure: str, limit: float, profiles=PROFILES) -> list[str]:
    misses = []
    for profile in profiles:
        ours, baseline = values[(profile, run, figure)]
        if ours > limit * baseline:
            misses.append(f"{profile} {run} {figure} ours={ours} baseline={baseline} ratio={ours / baseline:.2f} "
                          f"(target <= {limit})")
    return misses


def test_every_task_makes_one_round_trip_in_steady_state_and_two_on_a_change(site):
    runs, _values = site
    too_many = [f"{t['host']}: {t['task']} made {t['round_trips']} round trips in steady state"
                for t in runs[("ours", "steady")].tasks if (t["round_trips"] or 0) > 1]
    too_many += [f"{t['host']}: {t['task']} made {t['round_trips']} round trips on the first run"
                 for t in runs[("ours", "first")].tasks if (t["round_trips"] or 0) > 2]
    assert not too_many, "\n".join(too_many)
    assert all(t["round_trips"] <= 1 for t in runs[("ours", "steady")].tasks if t["round_trips"] is not None)
    # The steady state is steady on both sides, so the comparison is of like with like.
    for side in bench.SIDES:
        assert not any(t["changed"] for t in runs[(side, "steady")].tasks), f"{side} changed something in steady state"


def test_steady_state_bytes_are_no_more_than_the_baselines(site):
    _runs, values = site
    misses = _misses(values, "steady", "bytes", 1.0)
    assert not misses, "\n".join(misses)


def test_the_site_sends_no_more_bytes_than_the_baseline_on_its_first_run_and_half_in_steady_state(site):
    _runs, values = site
    misses = _misses(values, "first", "bytes", SITE_FIRST_RUN_BYTES_RATIO, profiles=("site",))
    misses += _misses(values, "steady", "bytes", SITE_STEADY_BYTES_RATIO, profiles=("site",))
    assert not misses, "\n".join(misses)


def test_steady_state_round_trips_are_at_most_half_the_baselines(site):
    _runs, values = site
    misses = _misses(values, "steady", "round_trips", STEADY_ROUND_TRIP_RATIO)
    assert not misses, "\n".join(misses)


@pytest.mark.xfail(strict=True, reason=NOT_REACHED)
def test_the_whole_site_first_run_makes_at_most_half_the_baselines_round_trips(site):
    _runs, values = site
    misses = _misses(values, "first", "round_trips", SITE_FIRST_RUN_ROUND_TRIP_RATIO, profiles=("site",))
    assert not misses, "\n".join(misses)


@pytest.fixture(scope="module", name="controller_time")
def fixture_controller_time(tmp_path_factory):
    # Several alternating repetitions, summed: one run on a shared machine varies by a tenth either way.
    return bench.measure_time(tmp_path_factory.mktemp("time"), counts=(1, 10), repeats={1: 4, 10: 2})


def _time_misses(results: dict, limit: float) -> list[str]:
    misses = []
    for count, result in results.items():
        ratio = result["cpu"]["ours"] / result["cpu"]["baseline"]
        if ratio > limit:
            misses.append(f"{count} host(s): controller CPU time ours={result['cpu']['ours']:.2f}s "
                          f"baseline={result['cpu']['baseline']:.2f}s ratio={ratio:.2f} (limit <= {limit})")
    return misses


def test_controller_time_per_host_is_no_worse_than_the_baselines(controller_time):
    misses = _time_misses(controller_time, CONTROLLER_TIME_RATIO)
    assert not misses, "\n".join(misses)


def test_what_is_reached_today_does_not_regress(site):
    _runs, values = site
    misses = _misses(values, "steady", "bytes", REACHED_STEADY_BYTES_RATIO, profiles=(*PROFILES, "site"))
    misses += _misses(values, "first", "bytes", REACHED_FIRST_RUN_BYTES_RATIO, profiles=(*PROFILES, "all_in_one", "site"))
    misses += _misses(values, "steady", "round_trips", REACHED_STEADY_ROUND_TRIP_RATIO)
    misses += _misses(values, "first", "round_trips", REACHED_SITE_FIRST_RUN_ROUND_TRIP_RATIO, profiles=("site",))
    assert not misses, "\n".join(misses)


def test_a_prepared_server_costs_one_round_trip_per_snapshot(site):
    """Steady state: every round trip is a snapshot, except the reads a snapshot does not take: a probe that
    compares a pool's password, cert_serial_registry on the gateway nodes, whose thumbprint comes from the import,
    and the gateway's cluster check, which runs with become where the snapshot does not."""
    runs, values = site
    allowed = {"pkiops.keyfactor_command.host_snapshot", "pkiops.keyfactor_command.iis_app_pools",
               "pkiops.keyfactor_command.cert_serial_registry", "pkiops.keyfactor_command.cluster_generic_service_role"}
    costly = [f"{t['host']}: {t['task']} ({t['action']})" for t in runs[("ours", "steady")].tasks
              if (t["round_trips"] or 0) > 0 and t["action"] not in allowed]
    assert not costly, "\n".join(costly)
    # The Orchestrators API pool runs as a gMSA, with no password: common's snapshot and the profile's are all.
    assert values[("orchestrator_api", "steady", "round_trips")][0] == 2
