#include "service_outputs.hpp"

#include <utility>

namespace armd {

std::map<std::string, ServiceOutputs::Sizes> ServiceOutputs::sizes_of(const arm::Config& config) {
  // Only the services that set their own: ten thousand entries of defaults were ~100 bytes
  // per service of armd's memory for nothing.
  std::map<std::string, Sizes> sizes;
  for (const auto& [name, spec] : config.services) {
    Sizes own{spec.log_buffer, spec.crash_context_lines};
    if (own.log_buffer != default_sizes.log_buffer ||
        own.crash_context_lines != default_sizes.crash_context_lines)
      sizes.emplace(name, own);
  }
  return sizes;
}

void ServiceOutputs::configure(std::map<std::string, Sizes> sizes) {
  sizes_ = std::move(sizes);
  for (auto& [service, output] : outputs_) output.ring.set_capacity(sizes_of(service).log_buffer);
}

void ServiceOutputs::forget(const std::string& service) {
  outputs_.erase(service);
  removed_.insert(service);
}

void ServiceOutputs::welcome(const std::string& service) {
  removed_.erase(service);
}

ServiceOutputs::Sizes ServiceOutputs::sizes_of(const std::string& service) const {
  auto found = sizes_.find(service);
  return found == sizes_.end() ? default_sizes : found->second;
}

ServiceOutputs::Output& ServiceOutputs::output_of(const std::string& service) {
  if (auto found = outputs_.find(service); found != outputs_.end()) return found->second;
  return outputs_.try_emplace(service, sizes_of(service).log_buffer).first->second;
}

ServiceOutputs::Output* ServiceOutputs::output_for(const std::string& service) {
  // A service removed by a reload may still be stopping, and talking: its lines are dropped,
  // not kept in a ring that a later service of the same name would inherit.
  if (removed_.contains(service)) return nullptr;
  return &output_of(service);
}

const arm::OutputRing* ServiceOutputs::ring(const std::string& service) const {
  auto found = outputs_.find(service);
  return found == outputs_.end() ? nullptr : &found->second.ring;
}

std::vector<arm::OutputLine> ServiceOutputs::exit_tail(const std::string& service) const {
  const arm::OutputRing* lines = ring(service);
  return lines ? lines->last(sizes_of(service).crash_context_lines)
               : std::vector<arm::OutputLine>{};
}

}  // namespace armd
