#include "watch_chain.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <string_view>

ARM_BEGIN_NAMESPACE
namespace posix::detail {

namespace {

constexpr int most_links = 40;  // as the kernel's ELOOP limit

void push_components(std::string_view path, std::deque<std::string>& into, bool front) {
  std::deque<std::string> parts;
  while (!path.empty()) {
    auto slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (front) {
    into.insert(into.begin(), parts.begin(), parts.end());
  } else {
    into.insert(into.end(), parts.begin(), parts.end());
  }
}

std::string joined(const std::string& directory, const std::string& name) {
  return directory == "/" ? "/" + name : directory + "/" + name;
}

std::string parent_of(const std::string& directory) {
  auto slash = directory.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : directory.substr(0, slash);
}

std::string link_target(const std::string& path) {
  std::string target(4096, '\0');
  ssize_t length = ::readlink(path.c_str(), target.data(), target.size());
  if (length <= 0) return {};
  target.resize(static_cast<std::size_t>(length));
  return target;
}

}  // namespace

std::vector<ChainStep> watch_chain(const std::string& absolute_path) {
  using Kind = ChainStep::Kind;
  std::vector<ChainStep> chain;
  std::deque<std::string> rest;
  push_components(absolute_path, rest, false);
  std::string current = "/";  // a real directory: no link in it
  int links = 0;
  while (!rest.empty()) {
    std::string name = std::move(rest.front());
    rest.pop_front();
    if (name == "..") {
      current = parent_of(current);
      continue;
    }
    bool last = rest.empty();
    std::string candidate = joined(current, name);
    struct stat info {};
    if (::lstat(candidate.c_str(), &info) != 0) {
      chain.push_back({last ? Kind::content : Kind::entry, current, name});
      break;
    }
    if (S_ISLNK(info.st_mode)) {
      chain.push_back({Kind::entry, current, name});
      std::string target = link_target(candidate);
      if (target.empty() || ++links > most_links) break;
      if (target.front() == '/') current.assign(1, '/');  // (not = "/": GCC 12 -Wrestrict)
      push_components(target, rest, true);
      continue;
    }
    if (S_ISDIR(info.st_mode) && !last) {
      chain.push_back({Kind::itself, candidate, {}});
      current = std::move(candidate);
      continue;
    }
    // The file at the end (whatever it is), or a non-directory in the middle of the path.
    chain.push_back({last ? Kind::content : Kind::entry, current, name});
    break;
  }
  return chain;
}

}  // namespace posix::detail
ARM_END_NAMESPACE
