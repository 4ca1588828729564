// A few nodes taken out of a node-based standard container (std::set, std::unordered_map), kept
// for its next insertion. A service that crashes and is restarted takes one entry out of the
// deadline set and the pid index and puts one back each time: with its nodes kept, that is no
// malloc and no free (issue 9's core benchmark, `crash_and_restart`). Private to libarm/core.
#pragma once

#include <cstddef>
#include <tuple>
#include <utility>
#include <vector>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace detail {

template <class Container>
class SpareNodes {
 public:
  using Node = typename Container::node_type;

  // Removes what `position` points at from `container`, keeping its node.
  void erase(Container& container, typename Container::const_iterator position) {
    keep(container.extract(position));
  }
  // Removes the entry with `key`, if any, keeping its node.
  template <class Key>
  void erase(Container& container, const Key& key) {
    keep(container.extract(key));
  }
  // Inserts the entry made of `parts` (a set's value; a map's key and mapped value) into a kept
  // node when there is one, else as emplace() does.
  template <class... Parts>
  void emplace(Container& container, Parts&&... parts) {
    if (spare_.empty()) {
      container.emplace(std::forward<Parts>(parts)...);
      return;
    }
    Node node = std::move(spare_.back());
    spare_.pop_back();
    if constexpr (requires { node.mapped(); }) {
      std::tie(node.key(), node.mapped()) = std::forward_as_tuple(std::forward<Parts>(parts)...);
    } else {
      node.value() = typename Container::value_type(std::forward<Parts>(parts)...);
    }
    container.insert(std::move(node));
  }

 private:
  // Enough for the restarts of one loop turn; beyond it, nodes are freed as usual (a stop-all
  // of ten thousand services must not leave ten thousand spare nodes behind).
  static constexpr std::size_t most_kept = 64;

  void keep(Node node) {
    if (node && spare_.size() < most_kept) spare_.push_back(std::move(node));
  }

  std::vector<Node> spare_;
};

}  // namespace detail
ARM_END_NAMESPACE
