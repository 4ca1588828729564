// GNUnet's INI dialect as gnunet-config (Debian's gnunet 0.19) reads it: comments, quotes,
// sections and keys without regard to case, @INLINE@ and @INLINE-SECRET@ through an injected
// reader (no files here), include loops and depth, later values over earlier ones, and errors
// that name file and line.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "gnunet_ini.hpp"

using namespace arm::config_detail;

namespace {

// The files an @INLINE@ may name, in memory.
struct Files {
  std::map<std::string, std::string> texts;
  int reads = 0;
  ReadTextFile reader() {
    return [this](const std::string& path) -> std::expected<std::string, std::string> {
      ++reads;
      auto found = texts.find(path);
      if (found == texts.end()) return std::unexpected(std::string("No such file or directory"));
      return found->second;
    };
  }
};

IniDocument parsed(std::string_view text, Files files = {}) {
  IniDocument document;
  auto done = parse_gnunet_ini(text, "/etc/peer.conf", files.reader(), document);
  REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().to_string()));
  return document;
}

arm::Error failure(std::string_view text, Files files = {}) {
  IniDocument document;
  auto done = parse_gnunet_ini(text, "/etc/peer.conf", files.reader(), document);
  REQUIRE_FALSE(done.has_value());
  return done.error();
}

std::string value(const IniDocument& document, std::string_view section, std::string_view key) {
  const IniValue* found = document.find(section, key);
  return found ? found->text : "<unset>";
}

}  // namespace

TEST_CASE("comment lines start with # or %, after any indentation, and only whole lines") {
  auto document = parsed(
      "# a comment\n"
      "% another\n"
      "[statistics]\n"
      "   # indented\n"
      "\t% indented too\n"
      "DATABASE = $GNUNET_DATA_HOME/statistics.dat # kept: not a comment here\n");
  CHECK(value(document, "statistics", "DATABASE") ==
        "$GNUNET_DATA_HOME/statistics.dat # kept: not a comment here");
  CHECK(document.section("statistics")->values.size() == 1);
}

TEST_CASE("a value loses its surrounding blanks and one pair of enclosing double quotes") {
  auto document = parsed(
      "[s]\n"
      "SPACED =    a  b   \r\n"
      "QUOTED = \"hello world\"\n"
      "HALF = \"x\n"
      "INNER = a \"b\" c\n"
      "EMPTY =\n"
      "NOSPACES=1\n");
  CHECK(value(document, "s", "SPACED") == "a  b");
  CHECK(value(document, "s", "QUOTED") == "hello world");
  CHECK(value(document, "s", "HALF") == "\"x");
  CHECK(value(document, "s", "INNER") == "a \"b\" c");
  CHECK(value(document, "s", "EMPTY") == "");
  CHECK(value(document, "s", "NOSPACES") == "1");
}

TEST_CASE("section and key names are found without regard to case") {
  auto document = parsed("[Mixed]\nKey = v\n");
  CHECK(value(document, "mixed", "KEY") == "v");
  CHECK(value(document, "MIXED", "key") == "v");
  CHECK(document.section("mixed")->name == "Mixed");
}

TEST_CASE("a later definition replaces an earlier one, within a file and across layers") {
  IniDocument document;
  Files files;
  REQUIRE(parse_gnunet_ini("[s]\nK = default\nD = only-default\n", "/usr/share/gnunet/s.conf",
                           files.reader(), document));
  REQUIRE(parse_gnunet_ini("[S]\nk = 1\n[s]\nK = 2\n", "/etc/peer.conf", files.reader(), document));
  CHECK(value(document, "s", "K") == "2");
  CHECK(value(document, "s", "D") == "only-default");
  CHECK(document.find("s", "K")->file == "/etc/peer.conf");
  CHECK(document.find("s", "K")->line == 4);
  CHECK(document.find("s", "K")->column == 1);
}

TEST_CASE("an error's column is where its line's text starts") {
  auto error = failure("[s]\n   indented garbage\n");
  CHECK(error.line == 2);
  CHECK(error.column == 4);
}

TEST_CASE("@INLINE@ reads a file in place, relative to the including file's directory") {
  Files files;
  files.texts["/etc/gnunet/more.conf"] = "[identity]\nEGODIR = /var/egos\n";
  files.texts["/abs/other.conf"] = "[statistics]\nK = from-other\n";
  auto document = parsed(
      "[statistics]\n"
      "K = before\n"
      "@INLINE@ /abs/other.conf\n"
      "@INLINE@ gnunet/more.conf\n"
      "AFTER = yes\n",
      files);
  CHECK(value(document, "statistics", "K") == "from-other");
  CHECK(value(document, "identity", "EGODIR") == "/var/egos");
  CHECK(document.find("identity", "EGODIR")->file == "/etc/gnunet/more.conf");
  CHECK(document.find("identity", "EGODIR")->line == 2);
  // The included file ended inside [identity]; the including file goes on in its own section.
  CHECK(value(document, "statistics", "AFTER") == "yes");
}

TEST_CASE("@INLINE-SECRET@ takes only its section from the file") {
  Files files;
  files.texts["/etc/secret.conf"] = "[identity]\nSECRET = s3\n[statistics]\nLEAK = yes\n";
  IniDocument document;
  REQUIRE(parse_gnunet_ini("[identity]\n@INLINE-SECRET@ identity /etc/secret.conf\n",
                           "/etc/peer.conf", files.reader(), document));
  CHECK(value(document, "identity", "SECRET") == "s3");
  CHECK(document.find("statistics", "LEAK") == nullptr);
  REQUIRE(document.warnings.size() == 1);
  CHECK(document.warnings[0].find("outside section [identity] ignored") != std::string::npos);
}

TEST_CASE("a broken line of an @INLINE-SECRET@ file is named by its place, never quoted") {
  Files files;
  files.texts["/etc/secret.conf"] = "[identity]\nPASSWORD hunter2-topsecret\n";
  auto error = failure("[identity]\n@INLINE-SECRET@ identity /etc/secret.conf\n", files);
  CHECK(error.file == "/etc/secret.conf");
  CHECK(error.line == 2);
  CHECK(error.to_string().find("hunter2") == std::string::npos);
  // Nor the key of a value above the first header (a base64 secret ends in '=').
  files.texts["/etc/secret.conf"] = "c2VjcmV0cGFzc3dvcmQ9aHVudGVyMg==\n[identity]\nX = 1\n";
  CHECK(failure("[identity]\n@INLINE-SECRET@ identity /etc/secret.conf\n", files)
            .to_string()
            .find("c2Vj") == std::string::npos);
  // Outside a secret file the line is quoted, as it helps.
  CHECK(failure("[a]\nJUST WORDS\n").to_string().find("'JUST WORDS'") != std::string::npos);
}

TEST_CASE("an unreadable @INLINE-SECRET@ file makes its section inaccessible, with a warning") {
  IniDocument document;
  Files files;
  REQUIRE(parse_gnunet_ini("[identity]\nBINARY = gnunet-service-identity\n", "/d/identity.conf",
                           files.reader(), document));
  REQUIRE(parse_gnunet_ini("[identity]\n@INLINE-SECRET@ identity /root/secret.conf\n",
                           "/etc/peer.conf", files.reader(), document));
  CHECK(document.find("identity", "BINARY") == nullptr);
  CHECK(document.section("identity")->inaccessible);
  REQUIRE(document.warnings.size() == 1);
  CHECK(document.warnings[0] ==
        "/etc/peer.conf:2: @INLINE-SECRET@ identity /root/secret.conf: No such file or directory; "
        "section [identity] is left out");
}

TEST_CASE("an @INLINE@ file that cannot be read is an error at the line that names it") {
  auto error = failure("[s]\n\n@INLINE@ missing.conf\n");
  CHECK(error.file == "/etc/peer.conf");
  CHECK(error.line == 3);
  CHECK(error.message == "@INLINE@ /etc/missing.conf: No such file or directory");
}

TEST_CASE("a file that includes itself, directly or through another, is an include loop") {
  Files files;
  files.texts["/etc/a.conf"] = "[s]\n@INLINE@ b.conf\n";
  files.texts["/etc/b.conf"] = "[s]\nK = 1\n@INLINE@ /etc/a.conf\n";
  auto error = failure("@INLINE@ a.conf\n", files);
  CHECK(error.file == "/etc/b.conf");
  CHECK(error.line == 3);
  CHECK(error.message.find("include loop: /etc/peer.conf -> /etc/a.conf -> /etc/b.conf") !=
        std::string::npos);
}

TEST_CASE("includes nested deeper than the limit are refused") {
  Files files;
  auto name = [](int i) { return "/etc/chain/" + std::to_string(i) + ".conf"; };
  for (int i = 0; i < 20; ++i) files.texts[name(i)] = "@INLINE@ " + name(i + 1) + "\n";
  files.texts[name(20)] = "[s]\nK = deep\n";
  auto error = failure("@INLINE@ /etc/chain/0.conf\n", files);
  CHECK(error.message.find("includes nested deeper than 10") != std::string::npos);
  CHECK(error.file == name(max_include_depth - 1));

  Files shallow;
  for (int i = 0; i < max_include_depth - 1; ++i)
    shallow.texts[name(i)] = "@INLINE@ " + name(i + 1) + "\n";
  shallow.texts[name(max_include_depth - 1)] = "[s]\nK = deep enough\n";
  CHECK(value(parsed("@INLINE@ /etc/chain/0.conf\n", shallow), "s", "K") == "deep enough");
}

TEST_CASE("a file included many times over, without a loop, is bounded in all") {
  // 40 x 40 includes of a small file: no loop, no depth, but 1,640 reads without the bound.
  Files files;
  std::string forty_of_middle;
  std::string forty_of_leaf;
  for (int i = 0; i < 40; ++i) {
    forty_of_middle += "@INLINE@ /etc/middle.conf\n";
    forty_of_leaf += "@INLINE@ /etc/leaf.conf\n";
  }
  files.texts["/etc/middle.conf"] = forty_of_leaf;
  files.texts["/etc/leaf.conf"] = "[s]\nK = leaf\n";
  auto error = failure(forty_of_middle, files);
  CHECK(error.message.find("more than 1000 files included in all") != std::string::npos);
}

TEST_CASE("the bytes of all includes together are bounded, not only their number") {
  // Twenty includes of a 1 MiB file: few files, but what a thousand of them would cost armd's
  // loop (a reload parses in it) is bounded by bytes.
  Files files;
  std::string includes;
  for (int i = 0; i < 20; ++i) includes += "@INLINE@ /etc/big.conf\n";
  files.texts["/etc/big.conf"] = "[s]\nK = " + std::string(std::size_t{1} << 20, 'x') + "\n";
  auto error = failure(includes, files);
  CHECK(error.message.find("more than 16 MiB included in all") != std::string::npos);
  CHECK(error.line == 16);
}

TEST_CASE("lines the dialect does not have are errors naming file and line") {
  CHECK(failure("K = v\n").message == "K is outside any section: put a [SECTION] header above it");
  CHECK(failure("K = v\n").line == 1);
  auto garbage = failure("[s]\nK = 1\ngarbage line\n");
  CHECK(garbage.line == 3);
  CHECK(garbage.to_string() ==
        "/etc/peer.conf:3:1: 'garbage line' is not [SECTION], KEY = VALUE, a comment (# or %) or "
        "@INLINE@");
  CHECK(failure("[s\n").message == "a section header is [NAME]");
  CHECK(failure("[s]\n = v\n").message == "a value without a key (nothing before '=')");
  CHECK(failure("[s]\n@INLINE@\n").message == "@INLINE@ needs a file name");
  CHECK(failure("[s]\n@INLINE-SECRET@ s\n").message ==
        "@INLINE-SECRET@ needs a section and a file name");
}

TEST_CASE("YES and NO are read in any case; anything else is neither") {
  CHECK(read_yes_no("YES") == YesNo::yes);
  CHECK(read_yes_no("yes") == YesNo::yes);
  CHECK(read_yes_no("No") == YesNo::no);
  CHECK(read_yes_no("1") == YesNo::neither);
  CHECK(read_yes_no("") == YesNo::neither);
}
