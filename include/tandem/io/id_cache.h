// IdCache: a tokenized training corpus on disk, memory-mapped.
//
// Usage:
//   IdCacheWriter writer("model/corpus-1f2e.ids", key_json);
//   writer.add(source_ids, source_len, target_ids, target_len, line);   // pair by pair, in order
//   writer.finish(report_json);                                         // atomic rename into place
//   std::string why;
//   auto cache = IdCache::open("model/corpus-1f2e.ids", key_json, &why);  // null: rebuild (why says so)
//   cache->entry(i).source_length; cache->ids() + cache->entry(i).offset;
//
// Layout (native little-endian, 8-byte aligned regions):
//   "tandem-ids 1\n" padded to 16 bytes
//   ids      int32: pair 0's source ids, its target ids, pair 1's ..., padded to 8 bytes
//   index    IdEntry per pair (24 bytes)
//   lengths  uint16 source and target length per pair (the batcher's lookups stay in
//            this small region); 65535 (kLongLength) means 65,535 or more: the
//            exact length is the entry's. Padded to 8 bytes
//   meta     JSON {"key": KEY, "report": REPORT}
//   footer   u64 id count, u64 pairs, u64 meta bytes, u64 file size, "tandem-ids end\n" (16 bytes)
// A file whose footer, size or key does not match is not used (a truncated
// copy, an interrupted build, other text or another vocabulary); the caller
// rebuilds it. Writing streams (memory does not grow with the corpus): ids go
// to PATH.tmp.UNIQUE, the index to PATH.index.tmp.UNIQUE, the lengths to
// PATH.lengths.tmp.UNIQUE (UNIQUE: this process and writer), joined at finish()
// and renamed into place, so that writers of several processes or machines
// building one cache at once (where file locks fail) each publish a whole file. Reading maps the file; release() hands the pages read so
// far back (they stay in the page cache), so that a long run's resident memory
// does not grow to the file's size.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace tandem::io {

struct IdEntry {
  uint64_t offset;         ///< index of the pair's first source id in ids()
  uint32_t source_length;  ///< source ids (the target's follow them)
  uint32_t target_length;
  uint64_t line;  ///< 1-based line in the text files
};
static_assert(sizeof(IdEntry) == 24, "IdEntry is written to disk as is");

/// In the lengths region: a side of this many pieces or more (read its IdEntry).
constexpr uint16_t kLongLength = 65535;

class IdCacheWriter {
 public:
  IdCacheWriter(std::string path, std::string key);
  ~IdCacheWriter();  // removes unfinished files
  IdCacheWriter(const IdCacheWriter&) = delete;
  IdCacheWriter& operator=(const IdCacheWriter&) = delete;

  void add(const int32_t* source, uint32_t source_length, const int32_t* target, uint32_t target_length,
           uint64_t line);
  /// Completes the file and renames it into place; throws tandem::Error (disk full, ...).
  void finish(const std::string& report);

 private:
  void write(std::FILE* file, const void* data, size_t bytes, const std::string& name);

  std::string path_;
  std::string key_;
  std::string ids_path_, index_path_, lengths_path_;  // the staging files
  std::FILE* ids_ = nullptr;
  std::FILE* index_ = nullptr;
  std::FILE* lengths_ = nullptr;
  uint64_t id_count_ = 0;
  uint64_t pairs_ = 0;
};

class IdCache {
 public:
  /// Maps `path` when it is a complete cache built with `key`; otherwise null,
  /// with the reason in `why` ("absent", "truncated", "built from other files", ...).
  static std::shared_ptr<const IdCache> open(const std::string& path, const std::string& key, std::string* why);
  ~IdCache();
  IdCache(const IdCache&) = delete;
  IdCache& operator=(const IdCache&) = delete;

  int64_t size() const { return static_cast<int64_t>(pairs_); }
  const IdEntry& entry(int64_t i) const { return index_[i]; }
  const IdEntry* entries() const { return index_; }
  const int32_t* ids() const { return ids_; }
  /// Source and target length of pair i at [2i] and [2i + 1]; kLongLength: see the entry.
  const uint16_t* lengths() const { return lengths_; }
  /// Drops the mapped pages from this process's resident memory (they are read again when needed).
  void release() const;
  uint64_t id_count() const { return id_count_; }
  /// The report given to IdCacheWriter::finish.
  const std::string& report() const { return report_; }

 private:
  IdCache() = default;
  void* map_ = nullptr;
  size_t bytes_ = 0;
  const int32_t* ids_ = nullptr;
  const IdEntry* index_ = nullptr;
  const uint16_t* lengths_ = nullptr;
  uint64_t pairs_ = 0;
  uint64_t id_count_ = 0;
  std::string report_;
};

}  // namespace tandem::io
