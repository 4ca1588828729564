"""`meson install` (issue 15): armd in sbin, armctl in bin, the unit, the man pages, the
completions, /etc/armd/armd.toml, and libarm for developers; nothing else (no test, benchmark or
example program). Installs the build into a scratch DESTDIR and looks at every file."""

import json
import os
import subprocess
import tempfile
import unittest

BUILD_ROOT = os.environ["BUILD_ROOT"]


def build_option(name):
    result = subprocess.run(["meson", "introspect", "--buildoptions", BUILD_ROOT],
                            capture_output=True, text=True, check=True, timeout=120)
    return next(o["value"] for o in json.loads(result.stdout) if o["name"] == name)


class InstallLayout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._scratch = tempfile.TemporaryDirectory(prefix="armd-install-")
        cls.destdir = cls._scratch.name
        subprocess.run(["meson", "install", "-C", BUILD_ROOT, "--no-rebuild", "--quiet",
                        "--destdir", cls.destdir], check=True, capture_output=True, timeout=600)
        cls.prefix = build_option("prefix")
        cls.files = set()
        for directory, _, names in os.walk(cls.destdir):
            for name in names:
                cls.files.add(os.path.relpath(os.path.join(directory, name), cls.destdir))

    @classmethod
    def tearDownClass(cls):
        cls._scratch.cleanup()

    def under(self, option, *rest):
        """The installed path (relative to DESTDIR) of OPTION's directory joined with REST."""
        base = os.path.join(self.prefix, build_option(option))
        return os.path.relpath(os.path.join(base, *rest), "/")

    def test_armd_is_in_sbin_and_armctl_in_bin(self):
        self.assertIn(self.under("sbindir", "armd"), self.files)
        self.assertIn(self.under("bindir", "armctl"), self.files)
        self.assertNotIn(self.under("bindir", "armd"), self.files)

    def test_the_system_integration_files_are_installed(self):
        for wanted in [self.under("sysconfdir", "armd", "armd.toml"),
                       self.under("datadir", "bash-completion", "completions", "armctl"),
                       self.under("datadir", "zsh", "vendor-completions", "_armctl"),
                       self.under("mandir", "man8", "armd.8"),
                       self.under("mandir", "man1", "armctl.1"),
                       self.under("mandir", "man5", "armd.toml.5")]:
            self.assertIn(wanted, self.files)
        units = [f for f in self.files if f.endswith("/systemd/system/armd.service")]
        self.assertEqual(len(units), 1, sorted(self.files))

    def test_the_unit_starts_the_installed_armd_on_the_installed_config(self):
        unit = next(f for f in self.files if f.endswith("/armd.service"))
        with open(os.path.join(self.destdir, unit)) as f:
            lines = f.read().splitlines()
        exec_start = next(line for line in lines if line.startswith("ExecStart="))
        armd = "/" + self.under("sbindir", "armd")
        config = "/" + self.under("sysconfdir", "armd", "armd.toml")
        self.assertEqual(exec_start, f"ExecStart={armd} --config {config}")
        self.assertIn("Type=notify", lines)

    def test_no_program_is_installed_but_armd_and_armctl(self):
        executables = sorted(f for f in self.files
                             if os.access(os.path.join(self.destdir, f), os.X_OK)
                             and not f.endswith((".a", ".hpp", ".pc"))
                             and "/libarm.so" not in f)
        self.assertEqual(executables, sorted([self.under("sbindir", "armd"),
                                              self.under("bindir", "armctl")]))

    def test_everything_installed_is_of_a_known_kind(self):
        libdir = self.under("libdir")
        known = {self.under("sbindir", "armd"), self.under("bindir", "armctl"),
                 os.path.join(libdir, "libarm.a"), os.path.join(libdir, "pkgconfig", "libarm.pc")}
        # The shared library (issue 16), when the build makes one: its file and two links.
        if build_option("default_library") != "static":
            version = json.loads(subprocess.run(
                ["meson", "introspect", "--projectinfo", BUILD_ROOT], capture_output=True,
                text=True, check=True, timeout=120).stdout)["version"]
            known |= {os.path.join(libdir, name)
                      for name in ["libarm.so", "libarm.so.0", "libarm.so." + version]}
        include = self.under("includedir", "arm") + "/"
        unexplained = sorted(f for f in self.files
                             if f not in known and not f.startswith(include)
                             and not f.endswith(("/armd.toml", "/completions/armctl", "/_armctl",
                                                 "/armd.8", "/armctl.1", "/armd.toml.5",
                                                 "/armd.service")))
        self.assertEqual(unexplained, [])
        self.assertIn(include + "supervisor.hpp", self.files)

    def test_the_headers_are_the_public_ones_and_the_generated_version(self):
        include = self.under("includedir", "arm") + "/"
        for wanted in ["supervisor.hpp", "abi.hpp", "version.hpp", "posix/unique_fd.hpp"]:
            self.assertIn(include + wanted, self.files)
        for unwanted in ["meson.build", "version.hpp.in"]:
            self.assertNotIn(include + unwanted, self.files)


if __name__ == "__main__":
    unittest.main()
