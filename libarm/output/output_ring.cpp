// OutputRing: the latest lines of one service, bounded in bytes, numbered so readers can tell
// what they missed.
#include <algorithm>

#include "arm/output.hpp"

namespace arm {

namespace {
std::size_t cost_of(const OutputLine& line) {
  return line.text.size() + OutputRing::line_overhead;
}
}  // namespace

OutputRing::OutputRing(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

std::uint64_t OutputRing::append(WallTime time, OutputStream stream, std::string_view text,
                                 bool continues) {
  std::uint64_t sequence = next_sequence_++;
  lines_.push_back(OutputLine{sequence, time, stream, std::string(text), continues});
  bytes_ += cost_of(lines_.back());
  drop_oldest_beyond(capacity_);
  return sequence;
}

void OutputRing::set_capacity(std::size_t capacity_bytes) {
  capacity_ = capacity_bytes;
  drop_oldest_beyond(capacity_);
}

void OutputRing::drop_oldest_beyond(std::size_t capacity_bytes) {
  // The newest line stays even when it alone is larger: an empty ring would tell nothing.
  while (bytes_ > capacity_bytes && lines_.size() > 1) {
    bytes_ -= cost_of(lines_.front());
    lines_.pop_front();
  }
}

std::vector<OutputLine> OutputRing::last(std::size_t count) const {
  std::size_t from = lines_.size() - std::min(count, lines_.size());
  return {lines_.begin() + static_cast<std::ptrdiff_t>(from), lines_.end()};
}

OutputRing::Since OutputRing::lines_from(std::uint64_t from, std::size_t most) const {
  Since since;
  std::uint64_t first = first_sequence();
  if (from < first) {
    since.missed = first - from;
    from = first;
  }
  from = std::min(from, next_sequence_);
  auto begin = lines_.begin() + static_cast<std::ptrdiff_t>(from - first);
  auto count = std::min<std::size_t>(most, static_cast<std::size_t>(lines_.end() - begin));
  since.lines.assign(begin, begin + static_cast<std::ptrdiff_t>(count));
  since.next = from + count;
  return since;
}

}  // namespace arm
