"""Unit tests of the benchmark harness (bench/harness): python3 -m unittest discover -s bench/tests -t bench"""
