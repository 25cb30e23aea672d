"""The scenario table (bench/scenarios.json) and its checks."""

import json
import os
import tempfile
import unittest

from harness import scenarios


class ScenarioTableTests(unittest.TestCase):
    def test_the_committed_table_is_valid_and_keeps_the_report_order(self):
        table = scenarios.load()
        self.assertEqual(list(table)[:3], ["plaintext", "pipelined", "json"])
        self.assertEqual(table["pipelined"]["pipeline"], 16)
        self.assertTrue(table["h2"]["h2"])

    def _load(self, table):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(table, f)
        try:
            return scenarios.load(f.name)
        finally:
            os.unlink(f.name)

    def test_the_https_scenarios_go_to_the_tls_port_and_churn_does_full_handshakes(self):
        table = scenarios.load()
        tls = [name for name, sc in table.items() if sc.get("tls")]
        self.assertEqual(tls, ["tls-plaintext", "tls-static-1k", "tls-root", "tls-static-16k-css", "tls-static-1m",
                               "tls-h2", "tls-churn"])
        self.assertTrue(table["tls-h2"]["h2"])
        self.assertEqual(table["tls-churn"]["tool"], "tlschurn")
        self.assertEqual(table["tls-static-1m"]["conns"], 32)

    def test_tlschurn_needs_tls(self):
        with self.assertRaisesRegex(ValueError, r"scenario x: tlschurn needs \"tls\": true"):
            self._load({"x": {"tool": "tlschurn", "path": "/", "conns": 1, "tls": False, "title": "X", "desc": "x"}})

    def test_an_unknown_tool_names_the_valid_ones(self):
        with self.assertRaisesRegex(ValueError, r"scenario x: tool 'ab' \(valid: wrk, h2load, tlschurn\)"):
            self._load({"x": {"tool": "ab", "path": "/", "conns": 1, "title": "X", "desc": "x"}})

    def test_a_missing_or_misspelt_field_is_named(self):
        with self.assertRaisesRegex(ValueError, r"missing \['streams'\], unknown \['stream'\]"):
            self._load({"x": {"tool": "h2load", "path": "/", "conns": 1, "stream": 4, "title": "X", "desc": "x"}})

    def test_a_background_load_needs_a_path_and_connections_on_wrk(self):
        ok = self._load({"x": {"tool": "wrk", "path": "/", "conns": 1, "background": {"path": "/b", "conns": 2},
                               "title": "X", "desc": "x"}})
        self.assertEqual(ok["x"]["background"]["conns"], 2)
        with self.assertRaisesRegex(ValueError, r"scenario x: background must be"):
            self._load({"x": {"tool": "wrk", "path": "/", "conns": 1, "background": {"path": "/b"},
                              "title": "X", "desc": "x"}})

    def test_the_blocking_scenario_measures_plaintext_beside_blocking_handlers(self):
        blocking = scenarios.load()["blocking"]
        self.assertEqual(blocking["path"], "/plaintext")
        self.assertTrue(blocking["background"]["path"].startswith("/test/block?ms="))


class ProfileArgsTests(unittest.TestCase):
    def test_the_blocking_scenario_gives_profile_sh_its_background_load(self):
        lines = scenarios.profile_args(scenarios.SCENARIOS["blocking"]).splitlines()
        self.assertIn("BG_PATH='/test/block?ms=20'", lines)
        self.assertIn("BG_CONNS=8", lines)
        self.assertIn("HEADERS=()", lines)

    def test_tls_scenarios_tell_profile_sh_to_use_the_https_endpoint(self):
        self.assertIn("TLS=1", scenarios.profile_args(scenarios.SCENARIOS["tls-static-1k"]).splitlines())
        self.assertIn("TLS=0", scenarios.profile_args(scenarios.SCENARIOS["static-1k"]).splitlines())

    def test_h2_and_headers_are_passed_quoted(self):
        self.assertIn("TOOL=h2load", scenarios.profile_args(scenarios.SCENARIOS["h2"]).splitlines())
        self.assertIn("HEADERS=('Connection: close')", scenarios.profile_args(scenarios.SCENARIOS["churn"]).splitlines())


if __name__ == "__main__":
    unittest.main()
