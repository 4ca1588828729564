#include "handover_state.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>

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

// The descriptor lists, one line per descriptor, after the JSON header; read back with plain
// string scanning (a JSON tree of three thousand objects cost the new armd more than the rest of
// its start, while it answered no one). The last word of a line is the rest of it, with '\' and
// line breaks escaped: a service name, cgroup or address may hold spaces. The three paths are
// lines too, not JSON strings: a path is bytes, and JSON would refuse one that is not UTF-8 (an
// armd writing them into the header, as the first of this format did, and reading them from it,
// as it still does, is read as well).
//
//   config_path PATH
//   socket_path PATH
//   cgroup PATH
//   child PID CGROUP
//   output PID FD stdout|stderr SERVICE
//   readiness PID FD
//   listener FD ADDRESS
namespace {

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

std::expected<std::string, std::string> unescaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (next != '\\' && next != 'n')
      return std::unexpected(std::string("a '\\' not followed by '\\' or 'n'"));
    out += next == 'n' ? '\n' : '\\';
    ++i;
  }
  return out;
}

// The words of one descriptor line, taken one at a time.
class LineWords {
 public:
  explicit LineWords(std::string_view line) : rest_(line) {}
  std::string_view word() {
    std::size_t space = rest_.find(' ');
    std::string_view word = rest_.substr(0, space);
    rest_ = space == std::string_view::npos ? std::string_view() : rest_.substr(space + 1);
    return word;
  }
  template <typename Number>
  std::expected<Number, std::string> number(std::string_view what) {
    std::string_view text = word();
    Number value{};
    auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || problem != std::errc{} || end != text.data() + text.size())
      return std::unexpected(fmt::format("{}: \"{}\" is not a number", what, text));
    return value;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// The header and the descriptor lines; the texts follow as they are (write_handover).
std::string encode_handover_head(const HandoverState& state) {
  std::string lines;
  lines.reserve(64 * (state.children.size() + state.output_pipes.size()));
  for (auto [kind, path] :
       {std::pair<std::string_view, std::string_view>{"config_path", state.config_path},
        {"socket_path", state.socket_path},
        {"cgroup", state.cgroup}}) {
    fmt::format_to(std::back_inserter(lines), "{} ", kind);
    append_escaped(lines, path);
    lines += '\n';
  }
  for (const auto& child : state.children) {
    fmt::format_to(std::back_inserter(lines), "child {} ", child.pid);
    append_escaped(lines, child.cgroup);
    lines += '\n';
  }
  for (const auto& pipe : state.output_pipes) {
    fmt::format_to(std::back_inserter(lines), "output {} {} {} ", pipe.pid, pipe.fd,
                   pipe.standard_error ? "stderr" : "stdout");
    append_escaped(lines, pipe.service);
    lines += '\n';
  }
  for (const auto& pipe : state.readiness_pipes)
    fmt::format_to(std::back_inserter(lines), "readiness {} {}\n", pipe.pid, pipe.fd);
  for (const auto& listener : state.listeners) {
    fmt::format_to(std::back_inserter(lines), "listener {} ", listener.fd);
    append_escaped(lines, listener.address);
    lines += '\n';
  }
  nlohmann::json document = {
      {"armd_handover", HandoverState::format_version},
      {"control_lock_fd", state.control_lock_fd},
      {"control_listen_fd", state.control_listen_fd},
      {"notify_fd", state.notify_fd},
      {"reply_fd", state.reply_fd},
      {"reply_id", state.reply_id},
      {"requested_at_ns", state.requested_at_ns},
      {"unavailable_since_ns", state.unavailable_since_ns},
      {"descriptor_bytes", lines.size()},
      {"supervisor_bytes", state.supervisor.size()},
      {"config_bytes", state.config_text.size()},
  };
  std::string head = document.dump();
  head += '\n';
  head += lines;
  return head;
}

// Reads `key` of `object` as T, or says which field is missing or of the wrong type.
template <typename T>
std::expected<T, std::string> field(const nlohmann::json& object, const char* key) {
  auto found = object.find(key);
  if (found == object.end()) return std::unexpected(fmt::format("handover: {}: missing", key));
  try {
    return found->get<T>();
  } catch (const nlohmann::json::exception&) {
    return std::unexpected(fmt::format("handover: {}: not a {}", key,
                                       std::is_same_v<T, std::string> ? "string" : "number"));
  }
}

// One descriptor line into `state`.
std::expected<void, std::string> read_descriptor_line(std::string_view line, HandoverState& state) {
  LineWords words(line);
  std::string_view kind = words.word();
  if (kind == "child") {
    HandoverState::Child child;
    auto pid = words.number<arm::ProcessId>("pid");
    if (!pid) return std::unexpected(pid.error());
    auto cgroup = unescaped(words.rest());
    if (!cgroup) return std::unexpected(cgroup.error());
    state.children.push_back({*pid, std::move(*cgroup)});
  } else if (kind == "config_path" || kind == "socket_path" || kind == "cgroup") {
    auto path = unescaped(words.rest());
    if (!path) return std::unexpected(path.error());
    (kind == "config_path"   ? state.config_path
     : kind == "socket_path" ? state.socket_path
                             : state.cgroup) = std::move(*path);
  } else if (kind == "output") {
    auto pid = words.number<arm::ProcessId>("pid");
    if (!pid) return std::unexpected(pid.error());
    auto fd = words.number<int>("fd");
    if (!fd) return std::unexpected(fd.error());
    std::string_view stream = words.word();
    if (stream != "stdout" && stream != "stderr")
      return std::unexpected(fmt::format("stream: \"{}\" is neither stdout nor stderr", stream));
    auto service = unescaped(words.rest());
    if (!service) return std::unexpected(service.error());
    state.output_pipes.push_back({*pid, std::move(*service), stream == "stderr", *fd});
  } else if (kind == "readiness") {
    auto pid = words.number<arm::ProcessId>("pid");
    if (!pid) return std::unexpected(pid.error());
    auto fd = words.number<int>("fd");
    if (!fd) return std::unexpected(fd.error());
    if (!words.rest().empty())
      return std::unexpected(fmt::format("\"{}\" after the fd", words.rest()));
    state.readiness_pipes.push_back({*pid, *fd});
  } else if (kind == "listener") {
    auto fd = words.number<int>("fd");
    if (!fd) return std::unexpected(fd.error());
    auto address = unescaped(words.rest());
    if (!address) return std::unexpected(address.error());
    state.listeners.push_back({std::move(*address), *fd});
  } else {
    return std::unexpected(fmt::format("\"{}\" is not a kind of descriptor", kind));
  }
  return {};
}

}  // namespace

std::expected<HandoverState, std::string> decode_handover(std::string_view text) {
  std::size_t header_end = text.find('\n');
  if (header_end == std::string_view::npos)
    return std::unexpected(std::string("handover: no header line"));
  nlohmann::json document = nlohmann::json::parse(text.substr(0, header_end), nullptr, false);
  if (document.is_discarded() || !document.is_object())
    return std::unexpected(std::string("handover: not a JSON object"));
  auto version = field<int>(document, "armd_handover");
  if (!version) return std::unexpected(version.error());
  if (*version != HandoverState::format_version)
    return std::unexpected(fmt::format("handover: format version {}, this armd reads version {}",
                                       *version, HandoverState::format_version));
  HandoverState state;
  std::string error;
  auto take = [&](auto& into, const char* key) {
    if (!error.empty()) return;
    auto value = field<std::remove_reference_t<decltype(into)>>(document, key);
    if (value)
      into = std::move(*value);
    else
      error = value.error();
  };
  std::size_t descriptor_bytes = 0;
  std::size_t supervisor_bytes = 0;
  std::size_t config_bytes = 0;
  take(descriptor_bytes, "descriptor_bytes");
  take(supervisor_bytes, "supervisor_bytes");
  take(config_bytes, "config_bytes");
  // An armd of the first version of this format wrote the paths here; this one writes lines.
  for (auto [key, into] : {std::pair<const char*, std::string*>{"config_path", &state.config_path},
                           {"socket_path", &state.socket_path},
                           {"cgroup", &state.cgroup}})
    if (document.contains(key)) take(*into, key);
  take(state.control_lock_fd, "control_lock_fd");
  take(state.control_listen_fd, "control_listen_fd");
  take(state.notify_fd, "notify_fd");
  take(state.reply_fd, "reply_fd");
  take(state.requested_at_ns, "requested_at_ns");
  take(state.unavailable_since_ns, "unavailable_since_ns");
  if (!error.empty()) return std::unexpected(error);
  if (document.contains("reply_id")) state.reply_id = document["reply_id"];

  std::string_view rest = text.substr(header_end + 1);
  // Compared one by one: their sum could wrap around.
  if (descriptor_bytes > rest.size() || supervisor_bytes > rest.size() - descriptor_bytes ||
      config_bytes != rest.size() - descriptor_bytes - supervisor_bytes)
    return std::unexpected(fmt::format(
        "handover: {} bytes follow the header, not {} (descriptors) + {} (supervisor) + {} "
        "(configuration)",
        rest.size(), descriptor_bytes, supervisor_bytes, config_bytes));
  std::string_view lines = rest.substr(0, descriptor_bytes);
  if (!lines.empty() && lines.back() != '\n')
    return std::unexpected(std::string("handover: the descriptor lines do not end a line"));
  for (std::size_t number = 1; !lines.empty(); ++number) {
    std::size_t end = lines.find('\n');
    if (auto read = read_descriptor_line(lines.substr(0, end), state); !read)
      return std::unexpected(fmt::format("handover: descriptor line {}: {}", number, read.error()));
    lines.remove_prefix(end + 1);
  }
  state.supervisor = std::string(rest.substr(descriptor_bytes, supervisor_bytes));
  state.config_text = std::string(rest.substr(descriptor_bytes + supervisor_bytes));
  return state;
}

std::expected<arm::posix::UniqueFd, std::string> write_handover(const HandoverState& state) {
  std::string head;
  try {
    head = encode_handover_head(state);
  } catch (const nlohmann::json::exception& e) {
    // Nothing in the header should be able to fail, but an exception here would end armd and
    // every service with it; a refused re-exec ends nothing.
    return std::unexpected(fmt::format("writing the handover header: {}", e.what()));
  }
  // The texts follow as they are, written from where they are: escaped into JSON strings, or
  // appended to the head, they would cost a copy (a third of a MB for a thousand services) while
  // armd answers no one.
  std::array<std::string_view, 3> parts{head, state.supervisor, state.config_text};
  arm::posix::UniqueFd fd(::memfd_create("armd-handover", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return std::unexpected(fmt::format("memfd_create: {}", std::strerror(errno)));
  std::size_t part = 0;
  std::size_t done = 0;  // bytes of parts[part] written
  while (part < parts.size()) {
    std::array<iovec, 3> vectors{};
    int count = 0;
    for (std::size_t i = part; i < parts.size(); ++i, ++count) {
      std::string_view rest = parts[i].substr(i == part ? done : 0);
      vectors[static_cast<std::size_t>(count)] = {const_cast<char*>(rest.data()), rest.size()};
    }
    ssize_t n = ::writev(fd.get(), vectors.data(), count);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return std::unexpected(fmt::format("writing the handover: {}", std::strerror(errno)));
    auto written = static_cast<std::size_t>(n);
    while (part < parts.size() && written >= parts[part].size() - done) {
      written -= parts[part].size() - done;
      done = 0;
      ++part;
    }
    done += written;
  }
  // What the new armd reads is what was written: nobody can change it in between.
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0)
    return std::unexpected(fmt::format("lseek: {}", std::strerror(errno)));
  return fd;
}

std::expected<std::string, std::string> read_whole(int fd) {
  std::string text;
  // A memfd's size is known: one allocation, and one read in the common case.
  struct stat status {};
  std::size_t expected = ::fstat(fd, &status) == 0 && status.st_size > 0
                             ? static_cast<std::size_t>(status.st_size)
                             : 0;
  // Sealed against growing and shrinking (write_handover), a memfd is read through a mapping:
  // copied in user space, that is a fifth of what read() costs the take-over of a thousand
  // services on a virtual machine (400 KB: 0.3 ms instead of 1.5 ms, measured on the test VM).
  constexpr int fixed_size = F_SEAL_GROW | F_SEAL_SHRINK;
  int seals = ::fcntl(fd, F_GET_SEALS);  // -1 for a file that is no memfd
  if (expected > 0 && seals >= 0 && (seals & fixed_size) == fixed_size) {
    void* mapped = ::mmap(nullptr, expected, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped != MAP_FAILED) {
      text.assign(static_cast<const char*>(mapped), expected);
      ::munmap(mapped, expected);
      return text;
    }
  }
  text.reserve(expected + 1);  // + 1: the read that finds the end needs room too
  for (;;) {
    std::size_t before = text.size();
    if (before == text.capacity()) text.reserve(before + 65536);
    text.resize(text.capacity());
    ssize_t n = ::pread(fd, text.data() + before, text.size() - before, static_cast<off_t>(before));
    text.resize(before + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return std::unexpected(fmt::format("reading descriptor {}: {}", fd, std::strerror(errno)));
    if (n == 0) return text;
  }
}

}  // namespace armd
