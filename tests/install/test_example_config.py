"""The example configuration installed as /etc/armd/armd.toml (issue 15) is valid, as shipped and
with its commented-out example service taken in."""

import os
import re
import subprocess
import tempfile
import unittest

ARMD = os.environ["ARMD"]
EXAMPLE = os.path.join(os.environ["SOURCE_ROOT"], "packaging", "armd.toml")


def check_config(path):
    return subprocess.run([ARMD, "--check-config", path], capture_output=True, text=True,
                          timeout=30)


class ExampleConfig(unittest.TestCase):
    def test_the_example_as_shipped_is_valid(self):
        result = check_config(EXAMPLE)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("valid (1 services)", result.stdout)
        self.assertEqual(result.stderr, "")  # not even a warning

    def test_the_commented_service_is_valid_once_uncommented(self):
        with open(EXAMPLE) as f:
            text = f.read()
        # Uncomment the `#[services.web]` block: its lines are "#key = ..." or "#[table]".
        block = text[text.index("#[services.web]"):]
        uncommented = text.replace(block, re.sub(r"^#", "", block, flags=re.M))
        self.assertIn("\n[services.web]\n", uncommented)
        with tempfile.TemporaryDirectory(prefix="armd-example-") as directory:
            path = os.path.join(directory, "armd.toml")
            with open(path, "w") as f:
                f.write(uncommented)
            result = check_config(path)
        # nginx need not be installed here: then only the files it names are missing.
        if result.returncode != 0:
            self.assertIn("valid, but", result.stderr)
            for line in result.stderr.splitlines()[:-1]:
                self.assertIn("services.web.", line)
        else:
            self.assertIn("valid (2 services)", result.stdout)


if __name__ == "__main__":
    unittest.main()
