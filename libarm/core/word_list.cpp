#include "word_list.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

WordList::WordList(const std::vector<std::string>& words) {
  std::size_t bytes = 0;
  for (const auto& word : words) bytes += word.size() + 1 + word.size() / 128;
  packed_.reserve(bytes);
  for (const auto& word : words) {
    std::size_t length = word.size();
    do {
      unsigned char digit = length & 0x7f;
      length >>= 7;
      packed_.push_back(static_cast<char>(length ? digit | 0x80 : digit));
    } while (length);
    packed_.append(word);
  }
}

void WordList::iterator::read() {
  if (at_ == end_) {
    word_ = {end_, 0};
    return;
  }
  std::size_t length = 0;
  int shift = 0;
  const char* at = at_;
  unsigned char digit = 0;
  do {
    digit = static_cast<unsigned char>(*at++);
    length |= std::size_t{digit & 0x7fu} << shift;
    shift += 7;
  } while (digit & 0x80);
  word_ = {at, length};
}

std::size_t WordList::size() const {
  std::size_t count = 0;
  for (auto it = begin(); it != end(); ++it) ++count;
  return count;
}

std::vector<std::string> WordList::to_vector() const {
  std::vector<std::string> words;
  words.reserve(size());
  for (std::string_view word : *this) words.emplace_back(word);
  return words;
}

}  // namespace detail
ARM_END_NAMESPACE
