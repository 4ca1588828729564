// Taking over after a re-exec (issue 15) fills a few MB of fresh heap while armd answers no one.
// Touched page by page, that memory costs one page fault per 4 KiB; on virtual machines a fault
// costs 10-20 us (measured 15-20 us on the 2-core test VM, where madvise(MADV_POPULATE_WRITE)
// maps the same pages for ~1.2 us each), which made page faults a third of the re-exec's
// unavailability with 1,000 services. PrefaultedHeap maps the heap the take-over will use in one
// call, before it starts.
#pragma once

#include <cstddef>

namespace armd {

class PrefaultedHeap {
 public:
  // The next `bytes` (at least 1 MiB is meant: takeover_heap_bytes) that malloc hands out come
  // from the heap (not from mmap), from pages already mapped. Not glibc's malloc (musl, ASan):
  // nothing happens. A kernel before 5.14 (no MADV_POPULATE_WRITE): the thresholds are set and
  // set back all the same, but nothing is mapped ahead.
  explicit PrefaultedHeap(std::size_t bytes);
  // Sets glibc's mmap and trim thresholds back to their documented defaults (128 KiB). Not quite
  // as a fresh process has them: setting either turns off glibc's dynamic mmap threshold for
  // good, and overrides an operator's MALLOC_MMAP_THRESHOLD_ / GLIBC_TUNABLES for these two.
  // (Measured: armd's status and re-exec paths take the same page faults either way.) What the
  // take-over did not use goes back to the kernel with the malloc_trim() armd's loop does when
  // it starts.
  ~PrefaultedHeap();

  PrefaultedHeap(const PrefaultedHeap&) = delete;
  PrefaultedHeap& operator=(const PrefaultedHeap&) = delete;

  std::size_t mapped_bytes() const { return mapped_bytes_; }  // 0: nothing was mapped ahead

 private:
  bool tuned_ = false;
  std::size_t mapped_bytes_ = 0;
};

// How much heap a take-over of a handover of `handover_bytes` bytes fills: measured ~6 bytes
// per handover byte with 1,000 services (2.4 MB for 0.4 MB); 8 leaves room. At least 1 MiB,
// at most 16 MiB, about 3,500 services (a bigger handover works the same: the rest is faulted
// in page by page, as without this).
std::size_t takeover_heap_bytes(std::size_t handover_bytes);

}  // namespace armd
