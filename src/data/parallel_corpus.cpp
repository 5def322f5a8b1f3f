#include "tandem/data/parallel_corpus.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tandem/error.h"
#include "tandem/io/line_reader.h"
#include "tandem/util/cpu_threads.h"
#include "tandem/util/fnv1a.h"
#include "tandem/util/utf8.h"

namespace tandem::data {

struct ParallelCorpus::Storage {
  std::vector<io::IdEntry> entries;
  std::vector<int32_t> ids;
  std::vector<uint16_t> lengths;
};

namespace {

namespace fs = std::filesystem;

// Why a line is not usable text, or empty when it is.
std::string text_problem(const std::string& line) {
  if (const auto bad = util::find_invalid_utf8(line)) {
    return "invalid UTF-8 at byte " + std::to_string(*bad + 1);
  }
  if (const auto nul = line.find('\0'); nul != std::string::npos) {
    return "NUL byte at byte " + std::to_string(nul + 1);
  }
  return {};
}

// Where the kept pairs go: memory or the cache file.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void add(const std::vector<int32_t>& source, const std::vector<int32_t>& target, int64_t line) = 0;
};

class MemorySink : public Sink {
 public:
  explicit MemorySink(std::vector<io::IdEntry>& entries, std::vector<int32_t>& ids) : entries_(entries), ids_(ids) {}
  void add(const std::vector<int32_t>& source, const std::vector<int32_t>& target, int64_t line) override {
    entries_.push_back({ids_.size(), static_cast<uint32_t>(source.size()), static_cast<uint32_t>(target.size()),
                        static_cast<uint64_t>(line)});
    ids_.insert(ids_.end(), source.begin(), source.end());
    ids_.insert(ids_.end(), target.begin(), target.end());
  }

 private:
  std::vector<io::IdEntry>& entries_;
  std::vector<int32_t>& ids_;
};

class CacheSink : public Sink {
 public:
  explicit CacheSink(io::IdCacheWriter& writer) : writer_(writer) {}
  void add(const std::vector<int32_t>& source, const std::vector<int32_t>& target, int64_t line) override {
    writer_.add(source.data(), static_cast<uint32_t>(source.size()), target.data(),
                static_cast<uint32_t>(target.size()), static_cast<uint64_t>(line));
  }

 private:
  io::IdCacheWriter& writer_;
};

struct Tokenized {
  std::string source_problem;
  std::string target_problem;
  std::vector<int32_t> source;
  std::vector<int32_t> target;
};

int64_t count_rest(io::LineReader& reader) {
  int64_t n = 0;
  for (std::string line; reader.next(line);) ++n;
  return n;
}

// Reads both files in chunks, tokenizes each chunk on `threads` threads, and
// checks and keeps the pairs in line order (so errors name the first bad line).
void read_corpus(const CorpusOptions& options, const vocab::Tokenizer& source_tokenizer,
                 const vocab::Tokenizer& target_tokenizer, Sink& sink, CorpusReport& report) {
  const bool monolingual = options.source_path.empty();
  std::unique_ptr<io::LineReader> source_reader;
  if (!monolingual) source_reader = std::make_unique<io::LineReader>(options.source_path);
  io::LineReader target_reader(options.target_path);
  const int threads = util::resolve_cpu_threads(options.threads);
  constexpr size_t kChunk = 8192;
  std::vector<std::string> source_lines(kChunk);
  std::vector<std::string> target_lines(kChunk);
  std::vector<Tokenized> results(kChunk);
  int64_t done = 0;
  while (true) {
    size_t n = 0;
    for (; n < kChunk; ++n) {
      const bool has_target = target_reader.next(target_lines[n]);
      const bool has_source = monolingual ? has_target : source_reader->next(source_lines[n]);
      if (has_source != has_target) {
        const int64_t common = done + static_cast<int64_t>(n);
        const int64_t source_count = common + (has_source ? 1 + count_rest(*source_reader) : 0);
        const int64_t target_count = common + (has_target ? 1 + count_rest(target_reader) : 0);
        throw Error("the corpus files are not line-aligned: " + options.source_path + " has " +
                    std::to_string(source_count) + " lines, " + options.target_path + " has " +
                    std::to_string(target_count) + "; line i of one must translate line i of the other");
      }
      if (!has_target) break;
      const bool first = done + static_cast<int64_t>(n) == 0;
      io::clean_line(target_lines[n], first);
      if (!monolingual) io::clean_line(source_lines[n], first);
    }
    // Tokenize the chunk, a slice a thread.
    const auto tokenize = [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        Tokenized& t = results[i];
        t.source_problem = monolingual ? std::string() : text_problem(source_lines[i]);
        t.target_problem = text_problem(target_lines[i]);
        t.source.clear();
        t.target.clear();
        if (!t.source_problem.empty() || !t.target_problem.empty()) continue;
        if (!monolingual) t.source = source_tokenizer.encode(source_lines[i]);
        t.target = target_tokenizer.encode(target_lines[i]);
      }
    };
    const size_t workers = std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), (n + 255) / 256);
    if (workers <= 1) {
      tokenize(0, n);
    } else {
      std::vector<std::thread> pool;
      std::vector<std::exception_ptr> errors(workers);
      for (size_t w = 0; w < workers; ++w) {
        pool.emplace_back([&, w] {
          try {
            tokenize(n * w / workers, n * (w + 1) / workers);
          } catch (...) {
            errors[w] = std::current_exception();
          }
        });
      }
      for (auto& t : pool) t.join();
      for (const auto& e : errors) {
        if (e) std::rethrow_exception(e);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const int64_t line = done + static_cast<int64_t>(i) + 1;
      const Tokenized& t = results[i];
      if (!t.source_problem.empty() || !t.target_problem.empty()) {
        if (!options.skip_invalid_utf8) {
          const bool source_side = !t.source_problem.empty();
          throw Error((source_side ? options.source_path : options.target_path) + ":" + std::to_string(line) + ": " +
                      (source_side ? t.source_problem : t.target_problem) +
                      "; fix the file (e.g. iconv -c) or pass --skip-invalid-utf8 to skip such pairs");
        }
        ++report.skipped_invalid;
        continue;
      }
      if ((!monolingual && t.source.empty()) || t.target.empty()) {
        ++report.skipped_empty;
        continue;
      }
      if (options.max_length > 0 && (static_cast<int64_t>(t.source.size()) > options.max_length ||
                                     static_cast<int64_t>(t.target.size()) > options.max_length)) {
        ++report.skipped_too_long;
        continue;
      }
      report.source_tokens += static_cast<int64_t>(t.source.size());
      report.target_tokens += static_cast<int64_t>(t.target.size());
      ++report.kept;
      sink.add(t.source, t.target, line);
    }
    done += static_cast<int64_t>(n);
    if (n < kChunk) break;
  }
  report.lines = done;
}

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

nlohmann::json file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open (no such file); check the path");
  std::error_code ec;
  const auto absolute = fs::absolute(path, ec);
  return {{"path", ec ? path : absolute.lexically_normal().string()},
          {"size", static_cast<int64_t>(st.st_size)},
          {"mtime-ns", static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec}};
}

std::string report_json(const CorpusReport& r) {
  return nlohmann::json{{"lines", r.lines},
                        {"kept", r.kept},
                        {"skipped-empty", r.skipped_empty},
                        {"skipped-too-long", r.skipped_too_long},
                        {"skipped-invalid", r.skipped_invalid},
                        {"source-tokens", r.source_tokens},
                        {"target-tokens", r.target_tokens}}
      .dump();
}

CorpusReport report_from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  CorpusReport r;
  r.lines = j.at("lines").get<int64_t>();
  r.kept = j.at("kept").get<int64_t>();
  r.skipped_empty = j.at("skipped-empty").get<int64_t>();
  r.skipped_too_long = j.at("skipped-too-long").get<int64_t>();
  r.skipped_invalid = j.at("skipped-invalid").get<int64_t>();
  r.source_tokens = j.at("source-tokens").get<int64_t>();
  r.target_tokens = j.at("target-tokens").get<int64_t>();
  return r;
}

// An exclusive lock on PATH.lock while it lives: workers on one machine build a
// cache once. Where the file system cannot lock (ENOLCK, ENOSYS, EOPNOTSUPP:
// some FUSE file systems, Lustre without -o flock) each builder goes on alone,
// which stays correct: every writer stages files of its own and renames a whole
// cache into place (IdCacheWriter); it only costs the work twice.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ < 0) return;
    int status = 0;
    while ((status = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (status != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

std::string CorpusReport::summary() const {
  std::ostringstream out;
  out << lines << " lines: " << kept << " pairs kept, "
      << (skipped_empty + skipped_too_long + skipped_invalid) << " skipped (" << skipped_empty
      << " empty, " << skipped_too_long << " too long, " << skipped_invalid
      << " invalid UTF-8); " << source_tokens << " source and " << target_tokens
      << " target pieces";
  return out.str();
}

SentencePair ParallelCorpus::pair(int64_t i) const {
  if (i < 0 || i >= size_) {
    throw Error("pair " + std::to_string(i) + " is not in the corpus of " + std::to_string(size_) + " pairs");
  }
  const io::IdEntry& e = entries_[i];
  if (e.offset + e.source_length + e.target_length > id_count_) {
    throw Error(cache_path_ + ": damaged (pair " + std::to_string(i) + " points past its ids); delete the file, and "
                "the next run rebuilds it");
  }
  SentencePair pair;
  const int32_t* ids = ids_ + e.offset;
  pair.source.assign(ids, ids + e.source_length);
  pair.target.assign(ids + e.source_length, ids + e.source_length + e.target_length);
  pair.line = static_cast<int64_t>(e.line);
  return pair;
}

void ParallelCorpus::release_pages() const {
  if (cache_) cache_->release();
}

ParallelCorpus ParallelCorpus::load(const CorpusOptions& options,
                                    const vocab::Tokenizer& source_tokenizer,
                                    const vocab::Tokenizer& target_tokenizer) {
  ParallelCorpus corpus;
  if (options.cache_folder.empty()) {
    auto storage = std::make_shared<Storage>();
    MemorySink sink(storage->entries, storage->ids);
    read_corpus(options, source_tokenizer, target_tokenizer, sink, corpus.report_);
    for (const auto& e : storage->entries) {
      storage->lengths.push_back(static_cast<uint16_t>(std::min<uint32_t>(e.source_length, io::kLongLength)));
      storage->lengths.push_back(static_cast<uint16_t>(std::min<uint32_t>(e.target_length, io::kLongLength)));
    }
    corpus.entries_ = storage->entries.data();
    corpus.lengths_ = storage->lengths.data();
    corpus.ids_ = storage->ids.data();
    corpus.size_ = static_cast<int64_t>(storage->entries.size());
    corpus.id_count_ = storage->ids.size();
    corpus.storage_ = std::move(storage);
    return corpus;
  }

  // The cache: named after the files and vocabularies, checked against their sizes and times.
  const bool monolingual = options.source_path.empty();
  const nlohmann::json source_stamp = monolingual ? nlohmann::json(nullptr) : file_stamp(options.source_path);
  const nlohmann::json target_stamp = file_stamp(options.target_path);
  const std::string source_vocab = hex(util::fnv1a(source_tokenizer.model_bytes()));
  const std::string target_vocab = hex(util::fnv1a(target_tokenizer.model_bytes()));
  const std::string identity = (monolingual ? std::string() : source_stamp.at("path").get<std::string>()) + "\n" +
                               target_stamp.at("path").get<std::string>() + "\n" + source_vocab + target_vocab +
                               std::to_string(options.max_length) + (options.skip_invalid_utf8 ? "s" : "");
  const nlohmann::json key = {{"format", 1},
                              {"source", source_stamp},
                              {"target", target_stamp},
                              {"source-vocab", source_vocab},
                              {"target-vocab", target_vocab},
                              {"max-length", options.max_length},
                              {"skip-invalid-utf8", options.skip_invalid_utf8}};
  std::error_code ec;
  fs::create_directories(options.cache_folder, ec);
  if (ec) throw Error(options.cache_folder + ": cannot create the data cache folder (" + ec.message() + ")");
  const std::string path = (fs::path(options.cache_folder) / ("corpus-" + hex(util::fnv1a(identity)) + ".ids")).string();
  corpus.cache_path_ = path;
  FileLock lock(path + ".lock");
  std::string why;
  auto cache = io::IdCache::open(path, key.dump(), &why);
  if (cache) {
    corpus.cache_status_ = "reused";
  } else {
    {
      io::IdCacheWriter writer(path, key.dump());
      CacheSink sink(writer);
      read_corpus(options, source_tokenizer, target_tokenizer, sink, corpus.report_);
      writer.finish(report_json(corpus.report_));
    }
    corpus.cache_status_ = why == "absent" ? "built" : "rebuilt (the old one was " + why + ")";
    cache = io::IdCache::open(path, key.dump(), &why);
    if (!cache) throw Error(path + ": the tokenized corpus cache just written cannot be read back (" + why + ")");
  }
  try {
    corpus.report_ = report_from_json(cache->report());
  } catch (const std::exception&) {
    throw Error(path + ": damaged (its report does not parse); delete the file, and the next run rebuilds it");
  }
  corpus.entries_ = cache->entries();
  corpus.lengths_ = cache->lengths();
  corpus.ids_ = cache->ids();
  corpus.size_ = cache->size();
  corpus.id_count_ = cache->id_count();
  corpus.cache_ = std::move(cache);
  return corpus;
}

}  // namespace tandem::data
