// What each service wrote: bytes from its pipes (arm::posix::OutputPipes) cut into lines and kept
// in a ring per service (arm::OutputRing), stamped with the wall-clock time they were read.
// Storing never waits, so the only backpressure a service feels is its own pipe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "arm/config.hpp"
#include "arm/output.hpp"
#include "arm/posix/output_pipes.hpp"

namespace armd {

class ServiceOutputs {
 public:
  // Each service's log_buffer and crash_context_lines, from a configuration (only those that
  // differ from the defaults are kept): rings shrink or grow to the new size.
  struct Sizes {
    std::size_t log_buffer;
    std::size_t crash_context_lines;
  };
  static inline const Sizes default_sizes{arm::ServiceSpec{}.log_buffer,
                                          arm::ServiceSpec{}.crash_context_lines};
  static std::map<std::string, Sizes> sizes_of(const arm::Config& config);
  void configure(std::map<std::string, Sizes> sizes);
  // A service no longer configured: its lines go, and what its processes still write while they
  // stop is dropped (a later service of the same name must not inherit it) ...
  void forget(const std::string& service);
  // ... until a reload configures that name again.
  void welcome(const std::string& service);

  // Bytes (or the end) of one pipe. `on_line(const arm::OutputLineView&)` is told of each line
  // stored (the chunk's service is the same for all: whatever it needs of the service, the
  // caller looks up once per chunk, not once per line). A template: called directly, not
  // through a std::function, for each of the thousands of lines a fast writer's read holds.
  template <class OnLine>
  void take(const arm::posix::OutputChunk& chunk, arm::WallTime now, OnLine&& on_line) {
    Output* output = output_for(chunk.service);
    if (!output) return;
    arm::LineSplitter& splitter = chunk.stream == arm::OutputStream::standard_output
                                      ? output->standard_output
                                      : output->standard_error;
    // The lines that lie whole in the chunk's bytes (nearly all) are gathered and stored
    // together at its end (arm::OutputRing::append_all: those the ring would drop at once are
    // not copied into it); a line the splitter put together from an earlier read is stored
    // at once, after those gathered before it.
    arm::OutputRing& ring = output->ring;
    auto store_gathered = [&] {
      ring.append_all(now, chunk.stream, gathered_);
      gathered_.clear();
    };
    auto in_chunk = [&](std::string_view text) {
      std::less<const char*> before;
      return !before(text.data(), chunk.bytes.data()) &&
             !before(chunk.bytes.data() + chunk.bytes.size(), text.data() + text.size());
    };
    auto store = [&](std::string_view text, bool continues) {
      news_ = true;
      if (in_chunk(text)) {
        gathered_.push_back({text, continues});
        on_line(arm::OutputLineView{ring.next_sequence() + gathered_.size() - 1, now, chunk.stream,
                                    text, continues});
        return;
      }
      if (!gathered_.empty()) store_gathered();
      ring.append(now, chunk.stream, text, continues);
      on_line(ring.newest());
    };
    if (!chunk.bytes.empty()) splitter.feed(chunk.bytes, store);
    if (!gathered_.empty()) store_gathered();
    if (chunk.ended) splitter.finish(store);
  }
  void take(const arm::posix::OutputChunk& chunk, arm::WallTime now) {
    take(chunk, now, [](const arm::OutputLineView&) {});
  }

  // The service's ring; null when it never wrote anything.
  const arm::OutputRing* ring(const std::string& service) const;
  // The lines to attach to its exit: the last crash_context_lines of them.
  std::vector<arm::OutputLine> exit_tail(const std::string& service) const;

  // True (once) when some ring got lines since the last call: followers have something new.
  bool take_news() { return std::exchange(news_, false); }

 private:
  struct Output {
    explicit Output(std::size_t capacity) : ring(capacity) {}
    arm::OutputRing ring;
    arm::LineSplitter standard_output;
    arm::LineSplitter standard_error;
  };
  Output& output_of(const std::string& service);
  // The service's output, made at its first chunk; null for a service removed by a reload.
  Output* output_for(const std::string& service);
  Sizes sizes_of(const std::string& service) const;

  std::map<std::string, Sizes> sizes_;
  std::map<std::string, Output> outputs_;
  std::set<std::string> removed_;  // by a reload, not configured again since
  // take()'s lines of one chunk, waiting to be stored together; kept for its capacity (one for
  // all services: only the chunk being taken uses it).
  std::vector<arm::OutputRing::Text> gathered_;
  bool news_ = false;
};

}  // namespace armd
