#include "service_outputs.hpp"

#include <utility>

namespace armd {

std::map<std::string, ServiceOutputs::Sizes> ServiceOutputs::sizes_of(const arm::Config& config) {
  std::map<std::string, Sizes> sizes;
  for (const auto& [name, spec] : config.services)
    sizes.emplace(name, Sizes{spec.log_buffer, spec.crash_context_lines});
  return sizes;
}

void ServiceOutputs::configure(std::map<std::string, Sizes> sizes) {
  sizes_ = std::move(sizes);
  for (auto it = outputs_.begin(); it != outputs_.end();) {
    auto size = sizes_.find(it->first);
    if (size == sizes_.end()) {
      it = outputs_.erase(it);
      continue;
    }
    it->second.ring.set_capacity(size->second.log_buffer);
    ++it;
  }
}

ServiceOutputs::Output& ServiceOutputs::output_of(const std::string& service) {
  if (auto found = outputs_.find(service); found != outputs_.end()) return found->second;
  auto size = sizes_.find(service);
  std::size_t capacity =
      size == sizes_.end() ? arm::OutputRing::default_capacity : size->second.log_buffer;
  return outputs_.try_emplace(service, capacity).first->second;
}

void ServiceOutputs::take(const arm::posix::OutputChunk& chunk, arm::WallTime now,
                          const OnLine& on_line) {
  // A service removed by a reload may still be stopping, and talking: its lines are dropped,
  // not kept in a ring that a later service of the same name would inherit.
  if (!sizes_.contains(chunk.service)) return;
  Output& output = output_of(chunk.service);
  arm::LineSplitter& splitter = chunk.stream == arm::OutputStream::standard_output
                                    ? output.standard_output
                                    : output.standard_error;
  auto store = [&](std::string_view text, bool continues) {
    output.ring.append(now, chunk.stream, text, continues);
    news_ = true;
    if (on_line) on_line(chunk.service, output.ring.newest());
  };
  if (!chunk.bytes.empty()) splitter.feed(chunk.bytes, store);
  if (chunk.ended) splitter.finish(store);
}

const arm::OutputRing* ServiceOutputs::ring(const std::string& service) const {
  auto found = outputs_.find(service);
  return found == outputs_.end() ? nullptr : &found->second.ring;
}

std::vector<arm::OutputLine> ServiceOutputs::exit_tail(const std::string& service) const {
  const arm::OutputRing* lines = ring(service);
  auto size = sizes_.find(service);
  std::size_t count = size == sizes_.end() ? 20 : size->second.crash_context_lines;
  return lines ? lines->last(count) : std::vector<arm::OutputLine>{};
}

}  // namespace armd
