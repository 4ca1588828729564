"""A program compiled without C++23 gets libarm's one-line explanation first, not pages of
errors about std::expected (issue 16).

    expected_missing.py INCLUDE_DIR COMPILER [ARGS...]"""

import subprocess
import sys
import tempfile
import unittest

INCLUDE_DIR = sys.argv.pop(1)
COMPILER = sys.argv[1:]
del sys.argv[1:]


def compile_with(standard):
    with tempfile.NamedTemporaryFile("w", suffix=".cpp") as source:
        source.write("#include <arm/supervisor.hpp>\nint main() { return 0; }\n")
        source.flush()
        return subprocess.run(COMPILER + [standard, "-fsyntax-only", "-I", INCLUDE_DIR,
                                          source.name],
                              capture_output=True, text=True, timeout=300)


class ExpectedMissing(unittest.TestCase):
    def test_cxx20_stops_at_the_explanation(self):
        result = compile_with("-std=c++20")
        self.assertNotEqual(result.returncode, 0)
        first_error = next(line for line in result.stderr.splitlines() if "error" in line)
        self.assertIn("arm/abi.hpp", first_error)
        self.assertIn("libarm needs C++23's std::expected: compile with -std=c++2b", first_error)

    def test_cxx2b_compiles(self):
        result = compile_with("-std=c++2b")
        self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
    unittest.main()
