"""armctl's shell completions (issue 15): bash completes commands and options as armctl --help
lists them, so a command added to armctl and not to the completion fails here; zsh's file
parses. Service names from a running armd are tested in tests/integration/test_install_probes.py.
"""

import os
import re
import shutil
import subprocess
import unittest

ARMCTL = os.environ["ARMCTL"]
SOURCE_ROOT = os.environ["SOURCE_ROOT"]
BASH_COMPLETION = os.path.join(SOURCE_ROOT, "packaging", "completion", "armctl.bash")
ZSH_COMPLETION = os.path.join(SOURCE_ROOT, "packaging", "completion", "_armctl")


def complete(*words, env=None):
    """What bash's completion offers for `armctl WORDS...`, the last word being completed."""
    line = " ".join(["armctl", *words])
    script = (f"source {BASH_COMPLETION}\n"
              f"COMP_WORDS=(armctl {' '.join(repr(w) for w in words)})\n"
              f"COMP_CWORD={len(words)}\nCOMP_LINE={line!r}\nCOMP_POINT=${{#COMP_LINE}}\n"
              "_armctl armctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    result = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                            timeout=30, env=env)
    if result.returncode != 0:
        raise AssertionError(f"bash exited {result.returncode}: {result.stderr}")
    return sorted(word for word in result.stdout.split("\n") if word)


def help_text(*command):
    result = subprocess.run([ARMCTL, *command, "--help"], capture_output=True, text=True,
                            timeout=30)
    return result.stdout


def commands_of_armctl():
    section = help_text().split("Subcommands:", 1)[1]
    return sorted(m.group(1) for line in section.splitlines()
                  if (m := re.match(r"^  ([a-z][a-z-]*)\s", line)))


class BashCompletion(unittest.TestCase):
    def test_a_command_prefix_completes_to_the_commands_it_begins(self):
        self.assertEqual(complete("sta"), ["start", "status"])
        self.assertEqual(complete("reload-s"), ["reload-service"])
        self.assertEqual(complete("frob"), [])

    def test_every_command_of_armctl_help_is_completed_and_no_other(self):
        commands = commands_of_armctl()
        self.assertIn("metrics", commands)  # the parse found the list
        self.assertEqual(complete(""), commands)

    def test_each_commands_options_are_those_of_its_help(self):
        for command in commands_of_armctl():
            offered = complete(command, "-")
            wanted = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", help_text(command)))
            wanted |= {"-h", "--help"}
            self.assertEqual(sorted(wanted), offered, f"armctl {command} -<TAB>")

    def test_options_before_the_command_are_armctls_own(self):
        self.assertEqual(complete("--s"), ["--socket"])
        self.assertEqual(complete("--socket", "/tmp/x.sock", "sto"), ["stop"])

    def test_without_an_armd_no_service_name_is_offered(self):
        env = dict(os.environ, ARMD_SOCKET="/nonexistent/armd.sock",
                   PATH=os.path.dirname(os.path.abspath(ARMCTL)) + ":" + os.environ["PATH"])
        self.assertEqual(complete("start", "", env=env), [])


class ZshCompletion(unittest.TestCase):
    def test_the_zsh_completion_parses(self):
        if shutil.which("zsh") is None:
            self.skipTest("zsh is not installed")
        result = subprocess.run(["zsh", "-n", ZSH_COMPLETION], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual((result.returncode, result.stderr), (0, ""))

    def test_the_zsh_completion_lists_every_command(self):
        with open(ZSH_COMPLETION) as f:
            text = f.read()
        for command in commands_of_armctl():
            self.assertIn(f"'{command}:", text, f"{command} missing from _armctl")


if __name__ == "__main__":
    unittest.main()
