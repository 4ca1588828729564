// LineSplitter: bytes in, lines out; long lines in marked pieces, a partial last line held.
#include "arm/output.hpp"

ARM_BEGIN_NAMESPACE

LineSplitter::LineSplitter(std::size_t max_line) : max_line_(max_line == 0 ? 1 : max_line) {}

std::string_view LineSplitter::feed_line(std::string_view bytes, std::size_t newline,
                                         const Emit& emit) {
  std::string_view upto = newline == std::string_view::npos ? bytes : bytes.substr(0, newline);
  // A line already longer than the limit goes out in full pieces, marked: the reader sees it
  // was cut, and where.
  while (partial_.size() + upto.size() > max_line_) {
    std::size_t room = max_line_ - partial_.size();
    if (partial_.empty()) {
      emit(upto.substr(0, room), true);
    } else {
      partial_.append(upto.substr(0, room));
      emit(partial_, true);
      partial_.clear();
    }
    upto.remove_prefix(room);
  }
  if (newline == std::string_view::npos) {
    partial_.append(upto);
    return {};
  }
  if (partial_.empty()) {
    emit(upto, false);
  } else {
    partial_.append(upto);
    emit(partial_, false);
    partial_.clear();
  }
  return bytes.substr(newline + 1);
}

void LineSplitter::finish(const Emit& emit) {
  if (partial_.empty()) return;
  emit(partial_, false);
  partial_.clear();
}

ARM_END_NAMESPACE
