// A service's options packed into one string (libarm/core/word_list.hpp): every word comes back
// as it went in, whatever its length or bytes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "word_list.hpp"

using arm::detail::WordList;

TEST_CASE("a word list gives back its words, in order, as they were") {
  std::vector<std::string> words = {"--port",
                                    "",
                                    "8080",
                                    std::string("a\0b", 3),
                                    std::string(127, 'x'),
                                    std::string(128, 'y'),
                                    std::string(70'000, 'z')};
  WordList list(words);
  CHECK(list.size() == words.size());
  CHECK(list.to_vector() == words);
  std::vector<std::string> iterated;
  for (std::string_view word : list) iterated.emplace_back(word);
  CHECK(iterated == words);
}

TEST_CASE("an empty word list has no words; lists compare by their words") {
  WordList none;
  CHECK(none.empty());
  CHECK(none.begin() == none.end());
  CHECK(none.size() == 0);
  CHECK(WordList(std::vector<std::string>{}).to_vector().empty());
  CHECK(WordList({"a", "bc"}) == WordList({"a", "bc"}));
  CHECK_FALSE(WordList({"a", "bc"}) == WordList({"ab", "c"}));
  CHECK_FALSE(WordList({""}).empty());
  CHECK(WordList({""}).size() == 1);
}
