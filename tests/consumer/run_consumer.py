"""Builds tests/consumer/toy, a parent project that uses libarm as an embedder would, and runs
its program, which supervises one real child (issue 16):

  run_consumer.py subproject   libarm as the toy's subproject (subprojects/libarm -> this tree):
                               only the library is configured and built (no armd, tests, bench,
                               examples; nlohmann-json, CLI11 and doctest are not looked up),
                               the subproject installs nothing, and the toy's program is linked
                               with libarm.so.0 without adding any -std flag of its own.
  run_consumer.py pkg-config   the build under test installed (meson install --destdir) and the
                               toy built against the installed libarm.pc (linked with the
                               installed libarm.so.0): Requires.private for
                               fmt, the C++ flag in Cflags, none of toml++'s definitions.

Environment: SOURCE_ROOT, BUILD_ROOT (the build under test, for pkg-config). Everything is made
in a temporary directory, removed at the end."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

MODE = sys.argv.pop(1)
SOURCE_ROOT = os.environ["SOURCE_ROOT"]
BUILD_ROOT = os.environ.get("BUILD_ROOT", "")
TOY = os.path.join(SOURCE_ROOT, "tests", "consumer", "toy")
# Configuring and compiling libarm's sources on a busy two-core machine.
BUILD_TIMEOUT = 1500


def run(command, env=None, timeout=BUILD_TIMEOUT):
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def build_option(build, name):
    options = json.loads(run(["meson", "introspect", "--buildoptions", build]).stdout)
    return next(o["value"] for o in options if o["name"] == name)


def needed_libraries(program):
    dynamic = run(["readelf", "-d", program]).stdout
    return [line.split("[")[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]


class Consumer(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory(prefix="libarm-consumer-")
        self.addCleanup(self.scratch.cleanup)
        self.work = self.scratch.name
        self.toy = os.path.join(self.work, "toy")
        shutil.copytree(TOY, self.toy)
        self.build = os.path.join(self.work, "build")
        self.marker = os.path.join(self.work, "marker")

    def run_toy(self, env=None):
        program = os.path.join(self.build, "supervise_once")
        self.assertIn("libarm.so.0", needed_libraries(program))
        result = subprocess.run([program, self.marker], capture_output=True, text=True, env=env,
                                timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("runs seen: 2, lines written: 2, failed: yes, finished: yes", result.stdout)
        with open(self.marker) as f:
            self.assertEqual(f.read(), "ran\nran\n")

    def test_subproject(self):
        if MODE != "subproject":
            self.skipTest("pkg-config mode")
        os.mkdir(os.path.join(self.toy, "subprojects"))
        os.symlink(SOURCE_ROOT, os.path.join(self.toy, "subprojects", "libarm"))
        # No optimization and no debug information: the toy checks linking and behaviour, not
        # speed, and compiling libarm again is most of this test's time.
        setup = run(["meson", "setup", "--buildtype=plain", self.build, self.toy])
        for unwanted in ["nlohmann_json", "CLI11", "doctest", "libsystemd", "benchmark"]:
            self.assertNotIn(f"Dependency {unwanted}", setup.stdout)
        targets = {t["name"] for t in
                   json.loads(run(["meson", "introspect", "--targets", self.build]).stdout)}
        self.assertIn("arm", targets)
        for unwanted in ["armd", "armctl", "supervisor_tests", "embed_poll", "marker"]:
            self.assertNotIn(unwanted, targets)
        run(["meson", "compile", "-C", self.build])
        self.run_toy()
        destdir = os.path.join(self.work, "dest")
        run(["meson", "install", "-C", self.build, "--no-rebuild", "--destdir", destdir])
        installed = [os.path.join(d, n) for d, _, names in os.walk(destdir) for n in names]
        self.assertEqual(installed, [], "the subproject installed files")

    def test_pkg_config(self):
        if MODE != "pkg-config":
            self.skipTest("subproject mode")
        destdir = os.path.join(self.work, "dest")
        # The library, its headers and libarm.pc (armd and armctl come with `runtime`).
        run(["meson", "install", "-C", BUILD_ROOT, "--no-rebuild", "--quiet",
             "--tags", "devel,runtime", "--destdir", destdir])
        prefix = build_option(BUILD_ROOT, "prefix")
        libdir = os.path.join(destdir + prefix, build_option(BUILD_ROOT, "libdir"))
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"),
                   PKG_CONFIG_SYSROOT_DIR=destdir)
        cflags = run(["pkg-config", "--cflags", "libarm"], env=env).stdout.split()
        self.assertIn("-std=c++2b", cflags)
        self.assertIn(f"-I{destdir}{prefix}/include", cflags)
        self.assertEqual([f for f in cflags if f.startswith("-D")], [], cflags)
        private = run(["pkg-config", "--print-requires-private", "libarm"], env=env).stdout
        self.assertIn("fmt", private)
        static_libs = run(["pkg-config", "--static", "--libs", "libarm"], env=env).stdout.split()
        self.assertIn("-ltomlplusplus", static_libs)
        self.assertIn("-lfmt", static_libs)
        # A sanitized build's libarm.so needs the sanitizers' runtimes: the toy is built with the
        # same sanitizers (scripts/sanitize.sh).
        sanitize = build_option(BUILD_ROOT, "b_sanitize")
        run(["meson", "setup", "--buildtype=debug", "-Dfrom=pkg-config", f"-Db_sanitize={sanitize}",
             "-Db_lundef=false", self.build, self.toy], env=env)
        run(["meson", "compile", "-C", self.build], env=env)
        self.run_toy(env=dict(os.environ, LD_LIBRARY_PATH=libdir))


if __name__ == "__main__":
    unittest.main()
