#include "heap_prefault.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

// Under AddressSanitizer, malloc is not glibc's: mallopt() and trimming do not apply.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define ARMD_GLIBC_MALLOC 1
#include <malloc.h>
#endif

namespace armd {

namespace {

#if defined(ARMD_GLIBC_MALLOC)
// glibc's documented defaults (mallopt(3)), restored afterwards.
constexpr int default_trim_threshold = 128 * 1024;
constexpr int default_mmap_threshold = 128 * 1024;

#ifndef MADV_POPULATE_WRITE
constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14
#endif
#endif

// glibc refuses an M_MMAP_THRESHOLD above 32 MiB on 64-bit machines; twice this is that.
constexpr std::size_t most_prefaulted_bytes = std::size_t{16} << 20;

}  // namespace

std::size_t takeover_heap_bytes(std::size_t handover_bytes) {
  constexpr std::size_t least = std::size_t{1} << 20;
  return std::clamp(handover_bytes * 8, least, most_prefaulted_bytes);
}

PrefaultedHeap::PrefaultedHeap(std::size_t bytes) {
#if defined(ARMD_GLIBC_MALLOC)
  bytes = std::min(bytes, most_prefaulted_bytes);
  int twice = static_cast<int>(2 * bytes);
  // Large blocks from the heap too (a handover's texts are: by default, glibc maps each block
  // of 128 KiB or more on its own), and a free() at the heap's top must not hand the mapped
  // pages back before the take-over used them.
  if (mallopt(M_MMAP_THRESHOLD, twice) == 0 || mallopt(M_TRIM_THRESHOLD, twice) == 0) return;
  tuned_ = true;
  // One block of `bytes` grows the heap by as much; freed, it becomes the heap's top, which the
  // take-over's allocations are cut from.
  void* block = std::malloc(bytes);
  if (block == nullptr) return;
  long page = ::sysconf(_SC_PAGESIZE);
  auto first = (reinterpret_cast<std::uintptr_t>(block) + static_cast<std::uintptr_t>(page) - 1) &
               ~(static_cast<std::uintptr_t>(page) - 1);
  auto end =
      (reinterpret_cast<std::uintptr_t>(block) + bytes) & ~(static_cast<std::uintptr_t>(page) - 1);
  if (end > first &&
      ::madvise(reinterpret_cast<void*>(first), end - first, MADV_POPULATE_WRITE) == 0)
    mapped_bytes_ = end - first;
  std::free(block);
#else
  (void)bytes;
#endif
}

PrefaultedHeap::~PrefaultedHeap() {
#if defined(ARMD_GLIBC_MALLOC)
  if (!tuned_) return;
  mallopt(M_MMAP_THRESHOLD, default_mmap_threshold);
  mallopt(M_TRIM_THRESHOLD, default_trim_threshold);
#endif
}

}  // namespace armd
