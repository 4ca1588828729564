"""The man pages (issue 15): they build, and they cannot drift from the programs silently.

Every option `armd --help` lists is in armd(8); every command `armctl --help` lists, and every
option of each command's own --help, is in armctl(1); every key docs/config.md's tables define
is in armd.toml(5). The pages are the ones meson built with scdoc (MAN_DIR); groff checks that
each renders without a warning.
"""

import os
import re
import shutil
import subprocess
import unittest

ARMD = os.environ["ARMD"]
ARMCTL = os.environ["ARMCTL"]
MAN_DIR = os.environ["MAN_DIR"]
SOURCE_ROOT = os.environ["SOURCE_ROOT"]


def page(name):
    with open(os.path.join(MAN_DIR, name)) as f:
        return f.read()


def roff_words(text):
    """The page's text with roff's escapes and font changes taken out, for searching in."""
    text = text.replace("\\-", "-").replace("\\fB", "").replace("\\fI", "").replace("\\fR", "")
    return text.replace("\\&", "").replace("\\(em", "-")


def help_text(*command):
    result = subprocess.run(list(command) + ["--help"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise AssertionError(f"{command} --help exited {result.returncode}: {result.stderr}")
    return result.stdout


def long_options(text):
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text)))


def armctl_commands(text):
    """The commands of CLI11's "Subcommands:" section, one per line."""
    commands = []
    section = text.split("Subcommands:", 1)[1]
    for line in section.splitlines():
        match = re.match(r"^  ([a-z][a-z-]*)\s", line)
        if match:
            commands.append(match.group(1))
    return commands


class ManPages(unittest.TestCase):
    def test_each_page_renders_without_a_warning(self):
        if shutil.which("groff") is None:
            self.skipTest("groff is not installed")
        for name in ("armd.8", "armctl.1", "armd.toml.5"):
            result = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(MAN_DIR, name)],
                                    capture_output=True, text=True, timeout=30)
            self.assertEqual((result.returncode, result.stderr), (0, ""), name)

    def test_every_armd_option_is_in_armd_8(self):
        options = long_options(help_text(ARMD))
        self.assertIn("--check-config", options)  # the parse found the option list
        text = roff_words(page("armd.8"))
        missing = [option for option in options if option not in text]
        self.assertEqual(missing, [], "armd options missing from docs/man/armd.8.scd")

    def test_every_armctl_command_and_its_options_are_in_armctl_1(self):
        text = roff_words(page("armctl.1"))
        commands = armctl_commands(help_text(ARMCTL))
        self.assertIn("reload-service", commands)  # the parse found the command list
        # Each command opens a paragraph of its own (the line that starts with its name).
        missing = [c for c in commands if not re.search(rf"^{re.escape(c)}( |$)", text, re.M)]
        self.assertEqual(missing, [], "armctl commands missing from docs/man/armctl.1.scd")
        for option in long_options(help_text(ARMCTL)):
            self.assertIn(option, text, "armctl option missing from docs/man/armctl.1.scd")
        for command in commands:
            for option in long_options(help_text(ARMCTL, command)):
                self.assertIn(option, text,
                              f"armctl {command} {option} missing from docs/man/armctl.1.scd")

    def test_every_configuration_key_is_in_armd_toml_5(self):
        with open(os.path.join(SOURCE_ROOT, "docs", "config.md")) as f:
            reference = f.read()
        keys = []
        for cell in re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|", reference, re.M):
            keys += re.findall(r"`([a-z_]+)`", cell)
        self.assertIn("default_services", keys)  # the parse found the tables
        self.assertIn("check_timeout", keys)
        text = roff_words(page("armd.toml.5"))
        missing = [key for key in keys if not re.search(rf"(?<![\w]){key} =", text)
                   and not re.search(rf"(?<![\w]){key}, ", text)]
        self.assertEqual(missing, [], "keys of docs/config.md missing from docs/man/armd.toml.5.scd")


if __name__ == "__main__":
    unittest.main()
