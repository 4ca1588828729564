// A text that is empty most of the time: why a service failed, why it is being stopped, which
// dependency it waits for. Private to libarm/core.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

// Holds its text on the heap only while it has one: 8 bytes when empty, where a std::string
// takes 32 inline whether or not it holds anything. A running service has none of its notes
// set, and ten thousand services paid 960 KB for three empty strings each.
class Note {
 public:
  Note() = default;
  Note(const Note& other) { *this = other.str(); }
  Note(Note&&) noexcept = default;
  Note& operator=(const Note& other) {
    if (this != &other) *this = other.str();
    return *this;
  }
  Note& operator=(Note&&) noexcept = default;
  Note& operator=(std::string text) {
    if (text.empty()) {
      text_.reset();
    } else if (text_) {
      *text_ = std::move(text);
    } else {
      text_ = std::make_unique<std::string>(std::move(text));
    }
    return *this;
  }

  const std::string& str() const { return text_ ? *text_ : nothing(); }
  operator const std::string&() const { return str(); }  // NOLINT: reads as the string it is
  bool empty() const { return !text_; }
  void clear() { text_.reset(); }
  // The text, leaving the note empty.
  std::string take() {
    std::string text = text_ ? std::move(*text_) : std::string();
    text_.reset();
    return text;
  }

 private:
  static const std::string& nothing() {
    static const std::string empty;
    return empty;
  }
  std::unique_ptr<std::string> text_;  // never holds an empty string
};

}  // namespace detail
ARM_END_NAMESPACE
