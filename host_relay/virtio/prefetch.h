#pragma once

namespace nicswitch::relay {

// Starts fetching the cache line at `p` into all cache levels, for reading. Never faults.
inline void PrefetchForRead(const void* p) { __builtin_prefetch(p, 0, 3); }

}  // namespace nicswitch::relay
