#include "child_stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

ARM_BEGIN_NAMESPACE
namespace posix {

namespace {

std::size_t page_size() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t round_up_to_pages(std::size_t bytes) {
  std::size_t page = page_size();
  return (bytes + page - 1) / page * page;
}

}  // namespace

ChildStack::~ChildStack() {
  release();
}

std::size_t ChildStack::needed_for(std::size_t argument_count) {
  // The child's own frames are small (system calls only), but sanitizer builds add to them;
  // 256 KiB leaves ample room.
  constexpr std::size_t base = 256 * 1024;
  return base + (argument_count + 2) * sizeof(char*);
}

std::expected<std::span<char>, int> ChildStack::reserve(std::size_t usable_bytes) {
  std::size_t guard = page_size();
  std::size_t wanted = guard + round_up_to_pages(usable_bytes);
  if (mapping_bytes_ < wanted) {
    release();
    void* mapped = ::mmap(nullptr, wanted, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapped == MAP_FAILED) return std::unexpected(errno);
    mapping_ = static_cast<char*>(mapped);
    mapping_bytes_ = wanted;
    // Stacks grow down: the guard goes at the low end.
    if (::mprotect(mapping_, guard, PROT_NONE) != 0) {
      int error = errno;
      release();
      return std::unexpected(error);
    }
  }
  return std::span<char>(mapping_ + guard, mapping_bytes_ - guard);
}

void ChildStack::release() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
  mapping_bytes_ = 0;
}

}  // namespace posix
ARM_END_NAMESPACE
