// Finding a service by name in one hash and (almost always) one comparison: every request names
// a service, and a look-up in the ordered map by name compared names a dozen times (40 % of a
// `status NAME` in the core benchmark, docs/performance.md). The ordered map stays for walking
// the services in name order; this index only finds them.
//
// Open addressing with linear probing over one array of pointers, at most half full: 16 bytes a
// service and no allocation per service (a node per service made building a supervisor of
// 10,000 services measurably slower). The names are the entries' own (`Entry::name()`), which
// must not change while the entry is in the index.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

template <class Entry>
class NameIndex {
 public:
  void reserve(std::size_t count) {
    if (count * 2 > slots_.size()) rehash(capacity_for(count));
  }
  // `entry`'s name must not be in the index yet.
  void insert(Entry* entry) {
    if ((count_ + 1) * 2 > slots_.size()) rehash(capacity_for(count_ + 1));
    std::size_t slot = home(entry->name());
    while (slots_[slot]) slot = (slot + 1) & mask();
    slots_[slot] = entry;
    ++count_;
  }
  Entry* find(std::string_view name) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t slot = home(name); slots_[slot]; slot = (slot + 1) & mask())
      if (slots_[slot]->name() == name) return slots_[slot];
    return nullptr;
  }
  void erase(std::string_view name) {
    if (slots_.empty()) return;
    std::size_t slot = home(name);
    while (slots_[slot] && slots_[slot]->name() != name) slot = (slot + 1) & mask();
    if (!slots_[slot]) return;
    // Backward-shift deletion: the entries after the hole that could live in it move up, so a
    // probe never stops early at a hole (no tombstones).
    std::size_t hole = slot;
    for (std::size_t next = (hole + 1) & mask(); slots_[next]; next = (next + 1) & mask()) {
      std::size_t wanted = home(slots_[next]->name());
      // Movable unless its home lies cyclically in (hole, next].
      bool stays =
          hole <= next ? (hole < wanted && wanted <= next) : (hole < wanted || wanted <= next);
      if (stays) continue;
      slots_[hole] = slots_[next];
      hole = next;
    }
    slots_[hole] = nullptr;
    --count_;
  }
  std::size_t size() const { return count_; }

 private:
  static std::size_t capacity_for(std::size_t count) {
    std::size_t capacity = 16;
    while (capacity < count * 2) capacity *= 2;
    return capacity;
  }
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t home(std::string_view name) const {
    return std::hash<std::string_view>{}(name)&mask();
  }
  void rehash(std::size_t capacity) {
    std::vector<Entry*> old = std::exchange(slots_, std::vector<Entry*>(capacity, nullptr));
    count_ = 0;
    for (Entry* entry : old)
      if (entry) insert(entry);
  }

  std::vector<Entry*> slots_;
  std::size_t count_ = 0;
};

}  // namespace detail
ARM_END_NAMESPACE
