"""The report keeps the hand-kept sections of the file it regenerates (harness.report)."""

import unittest

from harness import report


class KeptSectionsTests(unittest.TestCase):
    def test_sections_after_the_marker_survive_regeneration(self):
        previous = "# Old report\n\nold table\n\n" + report.KEPT_MARKER + "\n\n## Kept\n\nfigures\n"
        self.assertEqual(report.with_kept_sections("# New report\n\nnew table\n", previous),
                         "# New report\n\nnew table\n\n" + report.KEPT_MARKER + "\n\n## Kept\n\nfigures\n")

    def test_a_file_without_the_marker_or_no_file_is_replaced_whole(self):
        self.assertEqual(report.with_kept_sections("new\n", "# Old report\n\n## Not kept\n"), "new\n")
        self.assertEqual(report.with_kept_sections("new\n", None), "new\n")


if __name__ == "__main__":
    unittest.main()
