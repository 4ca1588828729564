// A list of words (a service's options) packed into one std::string: each word its length, as a
// base-128 varint, then its bytes. Private to libarm/core.
//
// Why not a std::vector<std::string>: the vector's buffer is an allocation of its own, made while
// the configuration is read, and it outlives everything allocated around it (the TOML tree, the
// Config), so each service's buffer kept a page of that freed memory resident: with 2,200
// services, a quarter of armd's heap was pages holding little but one such buffer each (issue
// 9). Packed, options up to 15 bytes in all ("100000" takes 7) fit in the string itself, and
// longer ones are one allocation.
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

class WordList {
 public:
  WordList() = default;
  explicit WordList(const std::vector<std::string>& words);

  // Iterates the words as string_views into the list.
  class iterator {
   public:
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const char* at, const char* end) : at_(at), end_(end) { read(); }
    std::string_view operator*() const { return word_; }
    iterator& operator++() {
      at_ = word_.data() + word_.size();
      read();
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const iterator& other) const { return at_ == other.at_; }

   private:
    void read();
    const char* at_ = nullptr;
    const char* end_ = nullptr;
    std::string_view word_;
  };

  iterator begin() const { return {packed_.data(), packed_.data() + packed_.size()}; }
  iterator end() const {
    return {packed_.data() + packed_.size(), packed_.data() + packed_.size()};
  }
  bool empty() const { return packed_.empty(); }
  std::size_t size() const;  // counts them: O(words)
  std::vector<std::string> to_vector() const;

  bool operator==(const WordList&) const = default;

 private:
  std::string packed_;
};

}  // namespace detail
ARM_END_NAMESPACE
