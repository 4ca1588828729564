// passwd and group lookups for the loader (user_database_posix.hpp).
#include "user_database_posix.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>

ARM_BEGIN_NAMESPACE
namespace config_detail {

int find_user(const std::string& name, std::optional<std::uint32_t> number,
              std::optional<UserEntry>& found_entry) {
  found_entry.reset();
  std::vector<char> buffer(4096);
  for (;;) {
    passwd entry{};
    passwd* found = nullptr;
    int error = number ? ::getpwuid_r(*number, &entry, buffer.data(), buffer.size(), &found)
                       : ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (error == ERANGE && buffer.size() < (1U << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    // ENOENT, ESRCH, EBADF, EPERM: "not found" as various C libraries say it.
    if (error != 0 && error != ENOENT && error != ESRCH && error != EBADF && error != EPERM)
      return error;
    if (found) found_entry = UserEntry{found->pw_uid, found->pw_gid, found->pw_name, found->pw_dir};
    return 0;
  }
}

int find_group(const std::string& name, std::optional<std::uint32_t>& gid) {
  gid.reset();
  std::vector<char> buffer(4096);
  for (;;) {
    group entry{};
    group* found = nullptr;
    int error = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (error == ERANGE && buffer.size() < (1U << 22)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (error != 0 && error != ENOENT && error != ESRCH && error != EBADF && error != EPERM)
      return error;
    if (found) gid = found->gr_gid;
    return 0;
  }
}

std::vector<std::uint32_t> groups_of(const std::string& user, std::uint32_t primary_group) {
  int count = 64;
  std::vector<gid_t> found(static_cast<std::size_t>(count));
  while (::getgrouplist(user.c_str(), primary_group, found.data(), &count) < 0) {
    if (count <= static_cast<int>(found.size())) count = static_cast<int>(found.size()) * 2;
    found.resize(static_cast<std::size_t>(count));
  }
  return {found.begin(), found.begin() + count};
}

}  // namespace config_detail
ARM_END_NAMESPACE
