// An optional value kept on the heap: 8 bytes while unset, where std::optional<std::string> takes
// 40 whether set or not. For ServiceSpec's settings that nearly every service leaves unset
// (armd holds one ServiceSpec per service, and its memory per service is measured: issue 9).
//
// Reads and writes like std::optional<T> (`if (x)`, `*x`, `x->`, `x.value_or(..)`, `x = v`,
// `x = std::nullopt`, `x.reset()`, `x == v`, `x == std::nullopt`) and converts to it, so code
// written for the std::optional it replaces compiles unchanged. Copies copy the value.
#pragma once

#include "arm/abi.hpp"

#include <compare>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

ARM_BEGIN_NAMESPACE

/// An optional `T` on the heap, used as std::optional<T> is (see this header's opening comment).
template <class T>
class BoxedOptional {
 public:
  /// @name Construction and assignment, as std::optional's
  ///@{

  /// Empty, or holding a copy of what it is given (a value, an optional, another BoxedOptional);
  /// moves take the other's value without copying it.
  BoxedOptional() = default;
  BoxedOptional(std::nullopt_t) {}
  template <class U = T>
  requires std::is_constructible_v<T, U&&> &&
      (!std::is_same_v<std::remove_cvref_t<U>, BoxedOptional>)&&(
          !std::is_same_v<std::remove_cvref_t<U>,
                          std::nullopt_t>)&&(!std::is_same_v<std::remove_cvref_t<U>,
                                                             std::optional<T>>)
          BoxedOptional(U&& value)
      : value_(std::make_unique<T>(std::forward<U>(value))) {}
  BoxedOptional(const std::optional<T>& other) {
    if (other) value_ = std::make_unique<T>(*other);
  }
  BoxedOptional(const BoxedOptional& other) : BoxedOptional() {
    if (other) value_ = std::make_unique<T>(*other);
  }
  BoxedOptional(BoxedOptional&&) noexcept = default;
  BoxedOptional& operator=(const BoxedOptional& other) {
    if (this != &other) value_ = other ? std::make_unique<T>(*other) : nullptr;
    return *this;
  }
  BoxedOptional& operator=(BoxedOptional&&) noexcept = default;
  BoxedOptional& operator=(std::nullopt_t) {
    value_.reset();
    return *this;
  }
  template <class U = T>
  requires std::is_constructible_v<T, U&&> &&
      (!std::is_same_v<std::remove_cvref_t<U>, BoxedOptional>)&&(
          !std::is_same_v<std::remove_cvref_t<U>,
                          std::nullopt_t>)&&(!std::is_same_v<std::remove_cvref_t<U>,
                                                             std::optional<T>>)BoxedOptional&
      operator=(U&& value) {
    if (value_)
      *value_ = T(std::forward<U>(value));
    else
      value_ = std::make_unique<T>(std::forward<U>(value));
    return *this;
  }
  ///@}

  /// @name Access, as std::optional's
  ///@{

  /// Whether it holds a value; `*`, `->` and value() reach it (value() throws
  /// std::bad_optional_access when empty, the others must not be used then), value_or() gives
  /// a fallback, emplace() makes one in place, reset() empties it, and it converts to
  /// std::optional<T> (a copy).
  bool has_value() const { return value_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  const T& operator*() const { return *value_; }
  T& operator*() { return *value_; }
  const T* operator->() const { return value_.get(); }
  T* operator->() { return value_.get(); }
  const T& value() const {
    if (!value_) throw std::bad_optional_access();
    return *value_;
  }
  T& value() {
    if (!value_) throw std::bad_optional_access();
    return *value_;
  }
  template <class U>
  T value_or(U&& fallback) const {
    return value_ ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }
  template <class... Args>
  T& emplace(Args&&... args) {
    value_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *value_;
  }
  void reset() { value_.reset(); }

  operator std::optional<T>() const { return value_ ? std::optional<T>(*value_) : std::nullopt; }
  ///@}

  /// @name Comparison, as std::optional's
  ///@{

  /// Equal when both are empty, or both hold equal values (std::nullopt is empty; a plain value
  /// is held).
  friend bool operator==(const BoxedOptional& a, const BoxedOptional& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a.has_value() || *a == *b;
  }
  friend bool operator==(const BoxedOptional& a, std::nullopt_t) { return !a.has_value(); }
  friend bool operator==(const BoxedOptional& a, const std::optional<T>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a.has_value() || *a == *b;
  }
  /// `Self` is deduced, never converted to: a BoxedOptional on the left, exactly (a value that
  /// merely converts to one would make the constraint check itself, with doctest's expressions).
  template <class Self, class U>
  requires std::is_same_v<Self, BoxedOptional> &&
      (!std::is_same_v<std::remove_cvref_t<U>, BoxedOptional>)&&(
          !std::is_same_v<
              std::remove_cvref_t<U>,
              std::nullopt_t>)&&(!std::is_same_v<std::remove_cvref_t<U>,
                                                 std::optional<T>>)&&requires(const T& t,
                                                                              const U& u) {
    { t == u } -> std::convertible_to<bool>;
  }
  friend bool operator==(const Self& a, const U& value) { return a.has_value() && *a == value; }
  ///@}

 private:
  std::unique_ptr<T> value_;
};

ARM_END_NAMESPACE
