// GNUnet's configuration dialect (util's configuration.c, as Debian's gnunet 0.19 reads it),
// parsed without touching the filesystem: files named by @INLINE@ are read through a function
// the caller passes in, so the parser is pure and the unit tests need no files.
//
// The dialect, as `gnunet-config` shows it:
//   [section]                 a section; names (and keys) compare without regard to case
//   KEY = VALUE               the value is kept verbatim, except the whitespace around it and
//                             one pair of double quotes around the whole of it
//   # ...  % ...              comment lines (only whole lines: "K = v # x" keeps "v # x")
//   @INLINE@ FILE             FILE read here (relative to the including file's directory)
//   @INLINE-SECRET@ SEC FILE  only section SEC of FILE; a FILE that cannot be read makes SEC
//                             inaccessible (a warning, not an error), as GNUnet does
// A key before any section, any other line, an unreadable @INLINE@ file, an include loop or
// includes nested deeper than max_include_depth are errors naming file and line. A later
// definition of a key replaces an earlier one (defaults first, then the user's file).
#pragma once

#include <expected>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "arm/abi.hpp"
#include "arm/error.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

// GNUnet compares section and key names with strcasecmp.
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view left, std::string_view right) const;
};

// A value and where it was defined, for errors about it.
struct IniValue {
  std::string text;
  std::string file;
  int line = 0;
  int column = 1;  // where its key starts
};

struct IniSection {
  std::string name;  // as first written
  std::map<std::string, IniValue, CaseInsensitiveLess> values;
  // Its @INLINE-SECRET@ file could not be read: GNUnet refuses every lookup in it.
  bool inaccessible = false;
  std::string inaccessible_because;  // "FILE:LINE: @INLINE-SECRET@ ...: why"
};

struct IniDocument {
  std::map<std::string, IniSection, CaseInsensitiveLess> sections;
  // Things that are not errors but that the reader should hear about (an unreadable secret).
  std::vector<std::string> warnings;

  const IniValue* find(std::string_view section, std::string_view key) const;
  const IniSection* section(std::string_view name) const;
};

// Reads the file at a path: its text, or why not (strerror's words).
using ReadTextFile = std::function<std::expected<std::string, std::string>(const std::string&)>;

// GNUnet refuses a loop; a depth limit also bounds what a hostile chain of files can cost.
inline constexpr int max_include_depth = 10;
// And a bound on the includes of one file in all (a file may include another one many times,
// and each of those the next, without any loop).
inline constexpr int max_included_files = 1000;
// And on the bytes they hold in all: a thousand includes of a large file would otherwise keep
// armd's loop busy for minutes (a reload parses in it).
inline constexpr std::size_t max_included_bytes = std::size_t{16} << 20;

// Parses `text`, the contents of `file`, into `document`, over what it already holds.
std::expected<void, Error> parse_gnunet_ini(std::string_view text, const std::string& file,
                                            const ReadTextFile& read_file, IniDocument& document);

// "YES"/"NO" as GNUnet's get_value_yesno reads them (any case); other text is neither.
enum class YesNo { yes, no, neither };
YesNo read_yes_no(std::string_view text);

}  // namespace config_detail
ARM_END_NAMESPACE
