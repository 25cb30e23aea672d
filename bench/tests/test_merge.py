"""Joining the results of a run split into parts (harness.merge)."""

import unittest

from harness import merge


def _run(server, rps, p99):
    return dict(server=server, scenario="x", rps=rps, p50_ms=1.0, p99_ms=p99, cpu_per_100k_s=1.0,
                server_core_util=0.9, other_cpu_s=0.1, wall_s=5.0, rss_max_sampled_kb=1000, errors_total=0,
                non2xx=0, socket_errors={}, ok=True, round=1)


def _part(scenario, command, elapsed, idle=None):
    runs = [dict(_run("epoll", 300.0, 2.0), scenario=scenario), dict(_run("sockets", 100.0, 4.0), scenario=scenario)]
    return dict(meta=dict(command=command, date="d", commit_short="c", elapsed_s=elapsed,
                          machine=dict(loadavg_start=["1"], loadavg_end=[command]),
                          settings=dict(scenarios=scenario)),
                modes=[dict(key="1core", scenarios=[scenario])],
                scenarios=[dict(mode="1core", scenario=scenario, runs=runs,
                                servers=dict(epoll=dict(error=None), sockets=dict(error=None)))],
                idle=idle)


class MergeTests(unittest.TestCase):
    def test_parts_join_into_one_run_with_every_scenario_and_command(self):
        r = merge.merge([_part("a", "run a", 100), _part("b", "run b", 50, idle=dict(servers={}))])
        self.assertEqual(r["modes"][0]["scenarios"], ["a", "b"])
        self.assertEqual([e["scenario"] for e in r["scenarios"]], ["a", "b"])
        self.assertEqual(r["meta"]["command"], "run a\nrun b")
        self.assertEqual(r["meta"]["elapsed_s"], 150)
        self.assertEqual(r["meta"]["machine"]["loadavg_end"], ["run b"])
        self.assertEqual(r["idle"], dict(servers={}))
        self.assertAlmostEqual(next(x for x in r["ratios"] if x["scenario"] == "b")["rps_epoll_over_sockets"], 3.0)

    def test_a_scenario_measured_twice_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "scenario a .* more than one part"):
            merge.merge([_part("a", "one", 1), _part("a", "two", 1)])
