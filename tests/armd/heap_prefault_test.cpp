// The heap a re-exec's take-over fills is mapped ahead (armd/daemon/heap_prefault.*): memory
// malloc'd after a PrefaultedHeap is written without a page fault per page, large blocks
// included, and what was not used can be given back afterwards. Its own executable: it changes how
// the whole process allocates.
#include <doctest/doctest.h>
#include <sys/resource.h>

// Under AddressSanitizer, malloc is not glibc's (and PrefaultedHeap does nothing).
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define ARMD_GLIBC_MALLOC 1
#include <malloc.h>
#endif

#include <cstdlib>
#include <cstring>
#include <vector>

#include "daemon/heap_prefault.hpp"

#if defined(ARMD_GLIBC_MALLOC)
namespace {

long minor_faults() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

constexpr std::size_t block_size = 200 * 1024;  // above glibc's default mmap threshold
constexpr std::size_t blocks = 20;              // 4 MB: 1,000 pages

// Faults taken writing `count` fresh blocks of `size` bytes (kept until the end of the call).
long faults_writing(std::size_t count, std::size_t size) {
  std::vector<void*> written;
  long before = minor_faults();
  for (std::size_t i = 0; i < count; ++i) {
    written.push_back(std::malloc(size));
    std::memset(written.back(), 1, size);
  }
  long taken = minor_faults() - before;
  for (void* block : written) std::free(block);
  return taken;
}

}  // namespace

TEST_CASE("memory malloc'd after a PrefaultedHeap is written without a fault per page") {
  // Without: every page of each block faults once (the check that this test can fail).
  CHECK(faults_writing(blocks, block_size) >= 900);

  armd::PrefaultedHeap heap(armd::takeover_heap_bytes(1 << 20));
  REQUIRE_MESSAGE(heap.mapped_bytes() >= blocks * block_size,
                  "madvise(MADV_POPULATE_WRITE) needs Linux 5.14");
  CHECK(faults_writing(blocks, block_size) < 100);
}

TEST_CASE("a free()d block of the take-over's size stays mapped until a trim gives it back") {
  {
    armd::PrefaultedHeap heap(armd::takeover_heap_bytes(1 << 20));
    CHECK(mallinfo2().keepcost >= 4 * block_size);  // mapped ahead: the heap's free top
  }
  malloc_trim(0);  // what armd's loop does once it runs
  CHECK(mallinfo2().keepcost < 256 * 1024);
}

#endif

TEST_CASE("the heap mapped ahead grows with the handover, within bounds") {
  CHECK(armd::takeover_heap_bytes(0) == std::size_t{1} << 20);
  CHECK(armd::takeover_heap_bytes(400'000) == 3'200'000);
  CHECK(armd::takeover_heap_bytes(std::size_t{1} << 30) == std::size_t{16} << 20);
}
