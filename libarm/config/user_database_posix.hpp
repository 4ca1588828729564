// The passwd and group databases, as the loader resolves `user`, `group` and
// `supplementary_groups` (issue 15): its only lookups outside the file, kept apart from the
// parsing as read_file_posix keeps the file's reading.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arm/abi.hpp"

ARM_BEGIN_NAMESPACE
namespace config_detail {

struct UserEntry {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string name;
  std::string home;
};

// The passwd entry of `name` (or of the uid `number`, when given) into `found` (left empty when
// there is none); returns 0, or the lookup's errno.
int find_user(const std::string& name, std::optional<std::uint32_t> number,
              std::optional<UserEntry>& found);

// The same for the group `name`.
int find_group(const std::string& name, std::optional<std::uint32_t>& gid);

// The groups the group database lists `user` in, with `primary_group` among them (as
// getgrouplist puts it, and as login(1) and systemd's User= give them).
std::vector<std::uint32_t> groups_of(const std::string& user, std::uint32_t primary_group);

}  // namespace config_detail
ARM_END_NAMESPACE
