"""The HTTPS scenarios' plumbing: which port and scheme each load goes to, the churn client's command
line, and nginx's generated TLS configuration."""

import re
import types
import unittest

from harness.loadgen import load_command
from harness.servers import nginx_config
from harness.tls import base_url

SERVER = types.SimpleNamespace(h1_port=1001, h2_port=1002, tls_port=1003)


class BaseUrlTests(unittest.TestCase):
    def test_each_kind_of_scenario_has_its_port(self):
        self.assertEqual(base_url(SERVER, {}), "http://127.0.0.1:1001")
        self.assertEqual(base_url(SERVER, {"h2": True}), "http://127.0.0.1:1002")
        self.assertEqual(base_url(SERVER, {"tls": True}), "https://127.0.0.1:1003")
        self.assertEqual(base_url(SERVER, {"tls": True, "h2": True}), "https://127.0.0.1:1003")


class LoadCommandTests(unittest.TestCase):
    def test_wrk_and_h2load_over_tls_use_the_https_url(self):
        cmd, _ = load_command("tls-static-1k", SERVER, 5, "1", "/tmp")
        self.assertEqual(cmd[-1], "https://127.0.0.1:1003/bench/1k.txt")
        cmd, log_file = load_command("tls-h2", SERVER, 5, "1", "/tmp")
        self.assertEqual(cmd[-1], "https://127.0.0.1:1003/plaintext")
        self.assertIsNotNone(log_file)

    def test_churn_runs_tlschurn_against_the_https_port(self):
        cmd, log_file = load_command("tls-churn", SERVER, 5, "1", "/tmp")
        self.assertIsNone(log_file)
        self.assertTrue(cmd[3].endswith("tlschurn"))
        args = dict(zip(cmd[4::2], cmd[5::2]))
        self.assertEqual(args, {"-t": "1", "-c": "256", "-d": "5", "-T": "5", "-p": "1003", "-u": "/plaintext"})


class NginxConfigTests(unittest.TestCase):
    def test_the_https_port_has_ssl_http2_the_certificate_and_resumption(self):
        conf = nginx_config("/content", "/prefix", (1001, 1002, 1003), 1, 100, ("/c/cert.pem", "/c/key.pem"))
        self.assertIn("listen 127.0.0.1:1003 ssl http2", conf)
        self.assertIn("ssl_certificate /c/cert.pem;", conf)
        self.assertIn("ssl_certificate_key /c/key.pem;", conf)
        self.assertIn("ssl_protocols TLSv1.2 TLSv1.3;", conf)
        self.assertIn("ssl_session_tickets on;", conf)
        self.assertIn("ssl_session_cache shared:SSL:10m;", conf)
        # TLS 1.2 offers ECDHE with AEAD suites only. OpenSSL names most CBC suites without "CBC"
        # (ECDHE-RSA-AES128-SHA256), so each suite on the line is checked, not the text for "CBC".
        suites = re.search(r"^\s*ssl_ciphers ([^;]+);", conf, re.M).group(1).split(":")
        self.assertTrue(suites)
        for suite in suites:
            self.assertTrue(suite.startswith("ECDHE-") and ("-GCM-" in suite or suite.endswith("-CHACHA20-POLY1305")), suite)


if __name__ == "__main__":
    unittest.main()
