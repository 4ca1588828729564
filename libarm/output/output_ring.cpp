// OutputRing: the latest lines of one service, bounded in bytes, numbered so readers can tell
// what they missed. The texts are copied into one buffer, not a string each: a service writing
// fast stored a line per allocation, and freed one per line dropped.
#include <algorithm>
#include <limits>

#include "arm/output.hpp"

ARM_BEGIN_NAMESPACE

OutputRing::OutputRing(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

std::uint64_t OutputRing::append(WallTime time, OutputStream stream, std::string_view text,
                                 bool continues) {
  text = text.substr(0, std::numeric_limits<std::uint32_t>::max());
  std::uint64_t sequence = next_sequence_++;
  entries_.push_back(Entry{time, text_offset_ + text_.size(),
                           static_cast<std::uint32_t>(text.size()), stream, continues});
  text_.append(text);
  bytes_ += text.size() + line_overhead;
  drop_oldest_beyond(capacity_);
  return sequence;
}

void OutputRing::append_all(WallTime time, OutputStream stream, std::span<const Text> lines) {
  // The newest lines that fit, counted back from the last (which is kept even when it alone is
  // larger): what appending them all one by one would leave.
  std::size_t kept = 0;
  std::size_t kept_bytes = 0;
  for (auto line = lines.rbegin(); line != lines.rend(); ++line) {
    std::size_t cost =
        std::min<std::size_t>(line->text.size(), std::numeric_limits<std::uint32_t>::max()) +
        line_overhead;
    if (kept > 0 && kept_bytes + cost > capacity_) break;
    kept_bytes += cost;
    ++kept;
  }
  std::size_t skipped = lines.size() - kept;
  if (skipped > 0) {
    // The kept lines and one more do not fit: every line held now, older still, would be
    // dropped too.
    entries_.clear();
    text_offset_ += text_.size();
    text_.clear();
    bytes_ = 0;
    next_sequence_ += skipped;
  }
  for (const Text& line : lines.subspan(skipped)) append(time, stream, line.text, line.continues);
}

void OutputRing::set_capacity(std::size_t capacity_bytes) {
  capacity_ = capacity_bytes;
  drop_oldest_beyond(capacity_);
  // A ring made smaller gives its memory back at once.
  if (!entries_.empty()) {
    std::size_t dead = static_cast<std::size_t>(entries_.front().offset - text_offset_);
    text_.erase(0, dead);
    text_offset_ += dead;
  }
  text_.shrink_to_fit();
}

void OutputRing::drop_oldest_beyond(std::size_t capacity_bytes) {
  // The newest line stays even when it alone is larger: an empty ring would tell nothing.
  bool dropped = false;
  while (bytes_ > capacity_bytes && entries_.size() > 1) {
    bytes_ -= entries_.front().length + line_overhead;
    entries_.pop_front();
    dropped = true;
  }
  if (dropped) compact();
}

void OutputRing::compact() {
  std::size_t dead = static_cast<std::size_t>(entries_.front().offset - text_offset_);
  if (dead < text_.size() - dead) return;
  text_.erase(0, dead);
  text_offset_ += dead;
}

OutputLineView OutputRing::view_of(std::size_t index) const {
  const Entry& entry = entries_[index];
  return {first_sequence() + index, entry.time, entry.stream,
          std::string_view(text_).substr(static_cast<std::size_t>(entry.offset - text_offset_),
                                         entry.length),
          entry.continues};
}

OutputLine OutputRing::line_at(std::size_t index) const {
  OutputLineView view = view_of(index);
  return {view.sequence, view.time, view.stream, std::string(view.text), view.continues};
}

std::vector<OutputLine> OutputRing::last(std::size_t count) const {
  std::vector<OutputLine> lines;
  for (std::size_t index = entries_.size() - std::min(count, entries_.size());
       index < entries_.size(); ++index)
    lines.push_back(line_at(index));
  return lines;
}

OutputRing::Since OutputRing::lines_from(std::uint64_t from, std::size_t most) const {
  Since since;
  std::uint64_t first = first_sequence();
  if (from < first) {
    since.missed = first - from;
    from = first;
  }
  from = std::min(from, next_sequence_);
  auto begin = static_cast<std::size_t>(from - first);
  auto count = std::min<std::size_t>(most, entries_.size() - begin);
  since.lines.reserve(count);
  for (std::size_t index = begin; index < begin + count; ++index)
    since.lines.push_back(line_at(index));
  since.next = from + count;
  return since;
}

ARM_END_NAMESPACE
