#include "closest_name.hpp"

#include <algorithm>
#include <vector>

ARM_BEGIN_NAMESPACE
namespace detail {

namespace {

// Edit distance counting a swap of two neighbouring letters as one edit ("wbe" is one edit from
// "web", as it is one slip of the fingers; Levenshtein counts two), the optimal string alignment
// variant of Damerau's. Three rows at a time: names are short, so this is cheap enough to run
// against every known name.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> before_previous(b.size() + 1), previous(b.size() + 1),
      current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        current[j] = std::min(current[j], before_previous[j - 2] + 1);
    }
    std::swap(before_previous, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

std::string_view closest_name(std::string_view name, std::span<const std::string_view> known) {
  // Two edits catch a dropped, doubled or swapped letter; more would suggest unrelated names.
  constexpr std::size_t farthest_suggestion = 2;
  std::string_view best;
  std::size_t best_distance = farthest_suggestion + 1;
  for (std::string_view candidate : known) {
    // Names that differ in length by more than two cannot be within two edits: skip the table.
    std::size_t longer = std::max(name.size(), candidate.size());
    std::size_t shorter = std::min(name.size(), candidate.size());
    if (longer - shorter > farthest_suggestion) continue;
    std::size_t distance = edit_distance(name, candidate);
    // Guessing "a" for "zz" would be noise: at least one letter must be right.
    if (distance < best_distance && distance < name.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace detail
ARM_END_NAMESPACE
