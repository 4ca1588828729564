// The one translation unit that compiles toml++'s implementation (see meson.build here).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
