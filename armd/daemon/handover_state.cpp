#include "handover_state.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace armd {

std::vector<int> HandoverState::descriptors() const {
  std::vector<int> fds{control_lock_fd, control_listen_fd, notify_fd, reply_fd};
  for (const auto& pipe : output_pipes) fds.push_back(pipe.fd);
  for (const auto& pipe : readiness_pipes) fds.push_back(pipe.fd);
  for (const auto& listener : listeners) fds.push_back(listener.fd);
  std::erase(fds, -1);
  return fds;
}

std::string encode_handover(const HandoverState& state) {
  using nlohmann::json;
  json children = json::array();
  for (const auto& child : state.children)
    children.push_back({{"pid", child.pid}, {"cgroup", child.cgroup}});
  json pipes = json::array();
  for (const auto& pipe : state.output_pipes)
    pipes.push_back({{"pid", pipe.pid},
                     {"service", pipe.service},
                     {"stream", pipe.standard_error ? "stderr" : "stdout"},
                     {"fd", pipe.fd}});
  json readiness = json::array();
  for (const auto& pipe : state.readiness_pipes)
    readiness.push_back({{"pid", pipe.pid}, {"fd", pipe.fd}});
  json listeners = json::array();
  for (const auto& listener : state.listeners)
    listeners.push_back({{"address", listener.address}, {"fd", listener.fd}});
  json document = {
      {"armd_handover", HandoverState::format_version},
      {"config_path", state.config_path},
      {"socket_path", state.socket_path},
      {"cgroup", state.cgroup},
      {"control_lock_fd", state.control_lock_fd},
      {"control_listen_fd", state.control_listen_fd},
      {"notify_fd", state.notify_fd},
      {"children", std::move(children)},
      {"output_pipes", std::move(pipes)},
      {"readiness_pipes", std::move(readiness)},
      {"listeners", std::move(listeners)},
      {"reply_fd", state.reply_fd},
      {"reply_id", state.reply_id},
      {"requested_at_ns", state.requested_at_ns},
      {"unavailable_since_ns", state.unavailable_since_ns},
      {"supervisor_bytes", state.supervisor.size()},
      {"config_bytes", state.config_text.size()},
  };
  // The texts follow the header line as they are: escaped into JSON strings they would cost a
  // copy each way (a third of a MB for a thousand services).
  std::string text = document.dump();
  text.reserve(text.size() + 1 + state.supervisor.size() + state.config_text.size());
  text += '\n';
  text += state.supervisor;
  text += state.config_text;
  return text;
}

namespace {

// Reads `key` of `object` as T, or says which field is missing or of the wrong type.
template <typename T>
std::expected<T, std::string> field(const nlohmann::json& object, std::string_view where,
                                    const char* key) {
  auto found = object.find(key);
  if (found == object.end()) return std::unexpected(fmt::format("{}{}: missing", where, key));
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception&) {
    return std::unexpected(fmt::format("{}{}: not a {}", where, key,
                                       std::is_same_v<T, std::string> ? "string" : "number"));
  }
}

}  // namespace

std::expected<HandoverState, std::string> decode_handover(std::string_view text) {
  std::size_t header_end = text.find('\n');
  if (header_end == std::string_view::npos)
    return std::unexpected(std::string("handover: no header line"));
  nlohmann::json document = nlohmann::json::parse(text.substr(0, header_end), nullptr, false);
  if (document.is_discarded() || !document.is_object())
    return std::unexpected(std::string("handover: not a JSON object"));
  auto version = field<int>(document, "handover: ", "armd_handover");
  if (!version) return std::unexpected(version.error());
  if (*version != HandoverState::format_version)
    return std::unexpected(fmt::format("handover: format version {}, this armd reads version {}",
                                       *version, HandoverState::format_version));
  HandoverState state;
  std::string error;
  auto take = [&](auto& into, const nlohmann::json& object, std::string_view where,
                  const char* key) {
    if (!error.empty()) return;
    auto value = field<std::remove_reference_t<decltype(into)>>(object, where, key);
    if (value)
      into = std::move(*value);
    else
      error = value.error();
  };
  std::size_t supervisor_bytes = 0;
  std::size_t config_bytes = 0;
  take(supervisor_bytes, document, "handover: ", "supervisor_bytes");
  take(config_bytes, document, "handover: ", "config_bytes");
  if (error.empty()) {
    std::string_view rest = text.substr(header_end + 1);
    if (rest.size() != supervisor_bytes + config_bytes)
      return std::unexpected(fmt::format(
          "handover: {} bytes follow the header, not {} (supervisor) + {} (configuration)",
          rest.size(), supervisor_bytes, config_bytes));
    state.supervisor = std::string(rest.substr(0, supervisor_bytes));
    state.config_text = std::string(rest.substr(supervisor_bytes));
  }
  take(state.config_path, document, "handover: ", "config_path");
  take(state.socket_path, document, "handover: ", "socket_path");
  take(state.cgroup, document, "handover: ", "cgroup");
  take(state.control_lock_fd, document, "handover: ", "control_lock_fd");
  take(state.control_listen_fd, document, "handover: ", "control_listen_fd");
  take(state.notify_fd, document, "handover: ", "notify_fd");
  take(state.reply_fd, document, "handover: ", "reply_fd");
  take(state.requested_at_ns, document, "handover: ", "requested_at_ns");
  take(state.unavailable_since_ns, document, "handover: ", "unavailable_since_ns");
  if (document.contains("reply_id")) state.reply_id = document["reply_id"];
  auto each = [&](const char* key, auto&& read_one) {
    if (!error.empty()) return;
    auto list = document.find(key);
    if (list == document.end() || !list->is_array()) {
      error = fmt::format("handover: {}: missing or not an array", key);
      return;
    }
    for (std::size_t i = 0; i < list->size() && error.empty(); ++i) {
      const auto& item = (*list)[i];
      std::string where = fmt::format("handover: {}[{}].", key, i);
      if (!item.is_object()) {
        error = fmt::format("handover: {}[{}]: not an object", key, i);
        return;
      }
      read_one(item, where);
    }
  };
  each("children", [&](const nlohmann::json& item, const std::string& where) {
    HandoverState::Child child;
    take(child.pid, item, where, "pid");
    take(child.cgroup, item, where, "cgroup");
    state.children.push_back(std::move(child));
  });
  each("output_pipes", [&](const nlohmann::json& item, const std::string& where) {
    HandoverState::OutputPipe pipe;
    std::string stream;
    take(pipe.pid, item, where, "pid");
    take(pipe.service, item, where, "service");
    take(stream, item, where, "stream");
    take(pipe.fd, item, where, "fd");
    if (error.empty() && stream != "stdout" && stream != "stderr")
      error = fmt::format("{}stream: \"{}\" is neither stdout nor stderr", where, stream);
    pipe.standard_error = stream == "stderr";
    state.output_pipes.push_back(std::move(pipe));
  });
  each("readiness_pipes", [&](const nlohmann::json& item, const std::string& where) {
    HandoverState::ReadinessPipe pipe;
    take(pipe.pid, item, where, "pid");
    take(pipe.fd, item, where, "fd");
    state.readiness_pipes.push_back(pipe);
  });
  each("listeners", [&](const nlohmann::json& item, const std::string& where) {
    HandoverState::Listener listener;
    take(listener.address, item, where, "address");
    take(listener.fd, item, where, "fd");
    state.listeners.push_back(std::move(listener));
  });
  if (!error.empty()) return std::unexpected(error);
  return state;
}

std::expected<arm::posix::UniqueFd, std::string> write_memfd(std::string_view text) {
  arm::posix::UniqueFd fd(::memfd_create("armd-handover", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return std::unexpected(fmt::format("memfd_create: {}", std::strerror(errno)));
  for (std::size_t written = 0; written < text.size();) {
    ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return std::unexpected(fmt::format("writing the handover: {}", std::strerror(errno)));
    written += static_cast<std::size_t>(n);
  }
  // What the new armd reads is what was written: nobody can change it in between.
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0)
    return std::unexpected(fmt::format("lseek: {}", std::strerror(errno)));
  return fd;
}

std::expected<std::string, std::string> read_whole(int fd) {
  std::string text;
  char buffer[65536];
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return std::unexpected(fmt::format("reading descriptor {}: {}", fd, std::strerror(errno)));
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
}

}  // namespace armd
