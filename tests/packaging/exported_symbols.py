"""What libarm.so exports (issue 16): every symbol in its dynamic table is libarm's own, in the
ABI's inline namespace arm::v0, and the public API is there.

Allowed, exactly (demangled):
  arm::v0::...                          functions and static data of the public API
  typeinfo for arm::v0::...             type information of the exported classes (the
  typeinfo name for arm::v0::...        interfaces a host implements, exceptions, dynamic_cast)
  vtable for arm::v0::...               vtables of the exported classes
  non-virtual thunk to arm::v0::...     adjusting entry points of those vtables
Nothing else: no std:: or fmt:: template instantiations (libarm/libarm.map keeps them local),
no toml::, no internal namespace (arm::v0::detail, arm::v0::config_reading...) or pimpl's
Impl class (ARM_HIDDEN), no C symbol.

    exported_symbols.py LIBARM_SO"""

import re
import subprocess
import sys
import unittest

LIBRARY = sys.argv.pop(1)
ALLOWED = re.compile(r"^(typeinfo for |typeinfo name for |vtable for |non-virtual thunk to )?"
                     r"arm::v0::")
# Searched in the symbol's own name (before its parameters: an exported class's private member may
# take its Impl as a parameter, and that member is the class's, not the Impl's).
INTERNAL = re.compile(r"arm::v0::(detail|config_reading|config_detail|posix::detail)::|::Impl::")


def exported():
    """Demangled names of the defined symbols in LIBRARY's dynamic symbol table."""
    nm = subprocess.run(["nm", "-D", "--defined-only", "--demangle", LIBRARY],
                        capture_output=True, text=True, check=True, timeout=120)
    names = []
    for line in nm.stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            names.append(parts[2])
    return names


class ExportedSymbols(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.names = exported()

    def test_every_exported_symbol_is_in_the_abi_namespace(self):
        outside = sorted(n for n in self.names if not ALLOWED.match(n))
        self.assertEqual(outside, [], f"{len(outside)} symbols outside arm::v0")

    def test_no_internal_part_is_exported(self):
        internal = sorted(n for n in self.names if INTERNAL.search(n.split("(")[0]))
        self.assertEqual(internal, [])

    def test_the_public_api_is_exported(self):
        wanted = ["arm::v0::version()",
                  "arm::v0::ServiceSupervisor::create(",
                  "arm::v0::ServiceSupervisor::on_child_exit(",
                  "arm::v0::ServiceSupervisor::next_deadline() const",
                  "arm::v0::ServiceSupervisor::add_service(",
                  "arm::v0::ServiceSupervisor::remove_service(",
                  "arm::v0::posix::PosixSpawner::create(",
                  "arm::v0::posix::InotifyWatcher::create()",
                  "arm::v0::load_config_file(",
                  "arm::v0::load_gnunet_config_file(",
                  "arm::v0::parse_gnunet_config_text(",
                  "arm::v0::looks_like_gnunet_config(",
                  "arm::v0::import_config(",
                  "arm::v0::detect_import_format(",
                  "arm::v0::parse_import_format(",
                  "arm::v0::Error::to_string",
                  "arm::v0::testing::SupervisorRig::",
                  "typeinfo for arm::v0::Spawner",
                  "vtable for arm::v0::posix::PosixSpawner"]
        for prefix in wanted:
            with self.subTest(prefix=prefix):
                self.assertTrue(any(n.startswith(prefix) for n in self.names),
                                f"{prefix} is not exported")

    def test_the_table_is_small_enough_to_be_the_api_alone(self):
        # Without -fvisibility=hidden and the version script, the library exported thousands
        # (every std::, fmt:: and toml:: instantiation); the API is a few hundred.
        self.assertLess(len(self.names), 1500, len(self.names))


if __name__ == "__main__":
    unittest.main()
