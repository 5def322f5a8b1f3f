#include "tandem/io/id_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "tandem/error.h"

namespace tandem::io {
namespace {

constexpr char kMagic[16] = "tandem-ids 2\n";  // 2: with the lengths region
constexpr char kEndMagic[16] = "tandem-ids end\n";
constexpr size_t kFooter = 4 * sizeof(uint64_t) + sizeof(kEndMagic);

}  // namespace

IdCacheWriter::IdCacheWriter(std::string path, std::string key) : path_(std::move(path)), key_(std::move(key)) {
  static std::atomic<uint64_t> counter{0};
  char host[64] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string unique = std::string(host) + "." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  ids_path_ = path_ + ".tmp." + unique;
  index_path_ = path_ + ".index.tmp." + unique;
  lengths_path_ = path_ + ".lengths.tmp." + unique;
  ids_ = std::fopen(ids_path_.c_str(), "wb");
  index_ = std::fopen(index_path_.c_str(), "w+b");
  lengths_ = std::fopen(lengths_path_.c_str(), "w+b");
  if (ids_ == nullptr || index_ == nullptr || lengths_ == nullptr) {
    throw Error(path_ + ": cannot write the tokenized corpus cache (" + std::strerror(errno) +
                "); check the folder's permissions, or give --data-cache another folder");
  }
  write(ids_, kMagic, sizeof(kMagic), ids_path_);
}

IdCacheWriter::~IdCacheWriter() {
  if (ids_ != nullptr) {
    std::fclose(ids_);
    std::remove(ids_path_.c_str());
  }
  if (index_ != nullptr) {
    std::fclose(index_);
    std::remove(index_path_.c_str());
  }
  if (lengths_ != nullptr) {
    std::fclose(lengths_);
    std::remove(lengths_path_.c_str());
  }
}

void IdCacheWriter::write(std::FILE* file, const void* data, size_t bytes, const std::string& name) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, file) != bytes) {
    throw Error(name + ": cannot write the tokenized corpus cache (" + std::strerror(errno) +
                "); check free space, or give --data-cache another folder");
  }
}

void IdCacheWriter::add(const int32_t* source, uint32_t source_length, const int32_t* target, uint32_t target_length,
                        uint64_t line) {
  const IdEntry entry{id_count_, source_length, target_length, line};
  write(index_, &entry, sizeof(entry), index_path_);
  const uint16_t lengths[2] = {static_cast<uint16_t>(std::min<uint32_t>(source_length, kLongLength)),
                               static_cast<uint16_t>(std::min<uint32_t>(target_length, kLongLength))};
  write(lengths_, lengths, sizeof(lengths), lengths_path_);
  write(ids_, source, source_length * sizeof(int32_t), ids_path_);
  write(ids_, target, target_length * sizeof(int32_t), ids_path_);
  id_count_ += source_length + target_length;
  ++pairs_;
}

void IdCacheWriter::finish(const std::string& report) {
  const std::string& tmp = ids_path_;
  if (id_count_ % 2 == 1) {  // the index starts 8-byte aligned
    const int32_t pad = 0;
    write(ids_, &pad, sizeof(pad), tmp);
  }
  std::vector<char> buffer(1 << 20);
  for (auto* part : {index_, lengths_}) {
    std::rewind(part);
    for (size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), part)) > 0;) write(ids_, buffer.data(), n, tmp);
    if (std::ferror(part)) throw Error(path_ + ": cannot read a part of it back (" + std::strerror(errno) + ")");
  }
  if (pairs_ % 2 == 1) {  // 4 bytes of lengths a pair: pad to 8
    const uint32_t pad = 0;
    write(ids_, &pad, sizeof(pad), tmp);
  }
  const std::string meta = nlohmann::json{{"key", key_}, {"report", report}}.dump();
  write(ids_, meta.data(), meta.size(), tmp);
  const uint64_t meta_bytes = meta.size();
  const uint64_t file_size = sizeof(kMagic) + (id_count_ + id_count_ % 2) * sizeof(int32_t) +
                             pairs_ * sizeof(IdEntry) + (pairs_ + pairs_ % 2) * 4 + meta_bytes + kFooter;
  const uint64_t footer[4] = {id_count_, pairs_, meta_bytes, file_size};
  write(ids_, footer, sizeof(footer), tmp);
  write(ids_, kEndMagic, sizeof(kEndMagic), tmp);
  const bool flushed = std::fflush(ids_) == 0 && ::fsync(fileno(ids_)) == 0;
  std::fclose(ids_);
  ids_ = nullptr;
  std::fclose(index_);
  index_ = nullptr;
  std::remove(index_path_.c_str());
  std::fclose(lengths_);
  lengths_ = nullptr;
  std::remove(lengths_path_.c_str());
  if (!flushed || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path_ + ": cannot finish the tokenized corpus cache (" + std::strerror(errno) + "); check free space");
  }
}

std::shared_ptr<const IdCache> IdCache::open(const std::string& path, const std::string& key, std::string* why) {
  const auto reject = [&](const std::string& reason) -> std::shared_ptr<const IdCache> {
    if (why != nullptr) *why = reason;
    return nullptr;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return reject("absent");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(kMagic) + kFooter) {
    ::close(fd);
    return reject("truncated (" + std::to_string(st.st_size) + " bytes)");
  }
  const auto bytes = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return reject(std::string("cannot be mapped (") + std::strerror(errno) + ")");
  std::shared_ptr<IdCache> cache(new IdCache());
  cache->map_ = map;
  cache->bytes_ = bytes;
  const auto* base = static_cast<const char*>(map);
  uint64_t footer[4];
  std::memcpy(footer, base + bytes - kFooter, sizeof(footer));
  if (std::memcmp(base, kMagic, sizeof(kMagic)) != 0) return reject("not a tandem id cache");
  if (std::memcmp(base + bytes - sizeof(kEndMagic), kEndMagic, sizeof(kEndMagic)) != 0 || footer[3] != bytes) {
    return reject("truncated or damaged");
  }
  const uint64_t ids = footer[0];
  const uint64_t pairs = footer[1];
  const uint64_t meta_bytes = footer[2];
  // The regions' places from the footer's counts, every step checked: a damaged
  // footer must not wrap around to sizes that agree by accident.
  uint64_t index_at = 0;
  uint64_t lengths_at = 0;
  uint64_t meta_at = 0;
  uint64_t end = 0;
  const bool wrapped = ids > UINT64_MAX - 1 || pairs > UINT64_MAX - 1 ||
                       __builtin_mul_overflow(ids + ids % 2, sizeof(int32_t), &index_at) ||
                       __builtin_add_overflow(index_at, sizeof(kMagic), &index_at) ||
                       __builtin_mul_overflow(pairs, sizeof(IdEntry), &lengths_at) ||
                       __builtin_add_overflow(lengths_at, index_at, &lengths_at) ||
                       __builtin_mul_overflow(pairs + pairs % 2, uint64_t{4}, &meta_at) ||
                       __builtin_add_overflow(meta_at, lengths_at, &meta_at) ||
                       __builtin_add_overflow(meta_at, meta_bytes, &end) || __builtin_add_overflow(end, kFooter, &end);
  if (wrapped || end != bytes) return reject("damaged (sizes disagree)");
  try {
    const auto meta = nlohmann::json::parse(std::string(base + meta_at, meta_bytes));
    if (meta.at("key").get<std::string>() != key) return reject("built from other files or another vocabulary");
    cache->report_ = meta.at("report").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return reject("damaged (its description does not parse)");
  }
  cache->ids_ = reinterpret_cast<const int32_t*>(base + sizeof(kMagic));
  cache->index_ = reinterpret_cast<const IdEntry*>(base + index_at);
  cache->lengths_ = reinterpret_cast<const uint16_t*>(base + lengths_at);
  // Batches pick pairs all over the ids and the index: no read-ahead there. The
  // lengths (4 bytes a pair) are all needed soon: read them in one sweep.
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t lengths_page = lengths_at / page * page;
  ::madvise(map, lengths_page, MADV_RANDOM);
  ::madvise(static_cast<char*>(map) + lengths_page, meta_at - lengths_page, MADV_WILLNEED);
  cache->pairs_ = pairs;
  cache->id_count_ = ids;
  return cache;
}

void IdCache::release() const {
  if (map_ != nullptr) ::madvise(map_, bytes_, MADV_DONTNEED);
}

IdCache::~IdCache() {
  if (map_ != nullptr) ::munmap(map_, bytes_);
}

}  // namespace tandem::io
