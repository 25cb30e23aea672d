"""The load generators' output parsers on real captured outputs (data/). The expected figures are
read off the captured text by hand, not computed by the code under test.

    python3 -m unittest discover -s bench/tests -t bench      (.ci/run runs this)
"""

import os
import unittest

from harness.parsers import ParseError, h2load_durations, parse_h2load, parse_wrk, percentile

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def lines(name):
    with open(os.path.join(DATA, name)) as f:
        return f.readlines()


class WrkTests(unittest.TestCase):
    def test_plaintext_run(self):
        r = parse_wrk(read("wrk-plaintext.txt"))
        self.assertEqual(r["requests"], 305262)
        self.assertEqual(r["bytes"], 40294584)
        self.assertAlmostEqual(r["duration_s"], 5.011367)
        self.assertAlmostEqual(r["rps"], 305262 / 5.011367)
        self.assertAlmostEqual(r["p50_ms"], 3.827)
        self.assertAlmostEqual(r["p75_ms"], 4.380)
        self.assertAlmostEqual(r["p90_ms"], 5.083)
        self.assertAlmostEqual(r["p99_ms"], 8.783)
        self.assertAlmostEqual(r["p99_9_ms"], 13.892)
        self.assertAlmostEqual(r["mean_ms"], 3.9925)
        self.assertAlmostEqual(r["max_ms"], 17.461)
        self.assertEqual(r["non2xx"], 0)
        self.assertEqual(r["socket_errors"], dict(connect=0, read=0, write=0, timeout=0))
        self.assertNotIn("socket_errors_line", r)
        self.assertNotIn("non2xx_line", r)

    def test_pipelined_run(self):
        r = parse_wrk(read("wrk-pipelined.txt"))
        self.assertEqual(r["requests"], 1572176)
        self.assertAlmostEqual(r["duration_s"], 5.020927)
        self.assertAlmostEqual(r["p99_ms"], 21.553)
        self.assertAlmostEqual(r["max_ms"], 104.599)

    def test_non_2xx_responses_are_counted_apart_from_socket_errors(self):
        r = parse_wrk(read("wrk-non2xx.txt"))
        self.assertEqual(r["requests"], 69633)
        self.assertEqual(r["non2xx"], 69633)
        self.assertEqual(r["non2xx_line"], "Non-2xx or 3xx responses: 69633")
        self.assertEqual(sum(r["socket_errors"].values()), 0)
        self.assertNotIn("status", r["socket_errors"])

    def test_read_errors_with_no_completed_request(self):
        r = parse_wrk(read("wrk-read-errors.txt"))
        self.assertEqual(r["requests"], 0)
        self.assertEqual(r["rps"], 0.0)
        self.assertEqual(r["socket_errors"], dict(connect=0, read=11875, write=0, timeout=0))
        self.assertEqual(r["socket_errors_line"], "Socket errors: connect 0, read 11875, write 0, timeout 0")
        self.assertEqual(r["non2xx"], 0)

    def test_output_without_the_benchjson_line_is_a_parse_error(self):
        with self.assertRaises(ParseError):
            parse_wrk(read("wrk-refused.txt"))


class TlsChurnTests(unittest.TestCase):
    """bench/churn/tlschurn.c prints wrk's BENCHJSON line, so the wrk parser reads it."""

    def test_a_churn_run(self):
        r = parse_wrk(read("tlschurn-ok.txt"))
        self.assertEqual(r["requests"], 242)
        self.assertEqual(r["bytes"], 37752)
        self.assertAlmostEqual(r["duration_s"], 1.024954)
        self.assertAlmostEqual(r["rps"], 242 / 1.024954)
        self.assertAlmostEqual(r["p50_ms"], 13.843)
        self.assertAlmostEqual(r["p99_ms"], 40.336)
        self.assertAlmostEqual(r["max_ms"], 46.795)
        self.assertEqual(r["non2xx"], 0)
        self.assertEqual(r["socket_errors"], dict(connect=0, read=0, write=0, timeout=0))

    def test_error_statuses_are_requests_and_non_2xx_as_in_wrk(self):
        r = parse_wrk(read("tlschurn-404.txt"))
        self.assertEqual(r["requests"], 63)
        self.assertEqual(r["non2xx"], 63)
        self.assertEqual(sum(r["socket_errors"].values()), 0)

    def test_a_refused_port_is_connect_errors_and_no_request(self):
        r = parse_wrk(read("tlschurn-refused.txt"))
        self.assertEqual(r["requests"], 0)
        self.assertEqual(r["socket_errors"]["connect"], 2536)


class H2loadTests(unittest.TestCase):
    def test_request_count_run_in_milliseconds_with_its_log(self):
        r = parse_h2load(read("h2load-ok.txt"), lines("h2load-ok.log"))
        self.assertEqual(r["requests"], 40)
        self.assertAlmostEqual(r["duration_s"], 0.00483)
        self.assertAlmostEqual(r["rps"], 40 / 0.00483)
        self.assertEqual(r["latency_samples"], 40)
        # Nearest rank over the 40 logged durations (µs): 20th 194, 36th 886, 40th 1040.
        self.assertAlmostEqual(r["p50_ms"], 0.194)
        self.assertAlmostEqual(r["p90_ms"], 0.886)
        self.assertAlmostEqual(r["p99_ms"], 1.040)
        self.assertAlmostEqual(r["max_ms"], 1.040)
        self.assertAlmostEqual(r["mean_ms"], 13744 / 40 / 1000)
        self.assertEqual(r["non2xx"], 0)
        self.assertEqual(r["socket_errors"], dict(failed=0, errored=0, timeout=0))

    def test_timed_run_in_seconds(self):
        r = parse_h2load(read("h2load-timed.txt"), [])
        self.assertEqual(r["requests"], 769649)
        self.assertAlmostEqual(r["duration_s"], 5.01)
        self.assertAlmostEqual(r["rps"], 769649 / 5.01)
        self.assertEqual(r["latency_samples"], 0)
        self.assertIsNone(r["p50_ms"])
        self.assertIsNone(r["mean_ms"])

    def test_4xx_responses_count_as_non_2xx_and_failed(self):
        r = parse_h2load(read("h2load-404.txt"), lines("h2load-404.log"))
        self.assertEqual(r["requests"], 10)
        self.assertEqual(r["non2xx"], 10)
        self.assertEqual(r["socket_errors"]["failed"], 10)
        self.assertAlmostEqual(r["p50_ms"], 0.116)
        self.assertAlmostEqual(r["max_ms"], 0.616)

    def test_truncated_output_is_a_parse_error(self):
        text = read("h2load-ok.txt")
        with self.assertRaises(ParseError):
            parse_h2load(text[:text.index("status codes:")], [])

    def test_log_lines_without_three_fields_are_skipped(self):
        self.assertEqual(h2load_durations(["1\t200\t30\n", "garbage\n", "2\t200\t10\n"]), [10, 30])


class PercentileTests(unittest.TestCase):
    def test_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(percentile(values, 50), 50)
        self.assertEqual(percentile(values, 99), 99)
        self.assertEqual(percentile(values, 99.9), 100)
        self.assertEqual(percentile(values, 0), 1)
        self.assertEqual(percentile([7], 50), 7)
        self.assertIsNone(percentile([], 50))


if __name__ == "__main__":
    unittest.main()
