// nn/safetensors.cpp: the safetensors encoder/decoder and the atomic file write.
//
// Decoding trusts nothing in the file: every length, offset and size is checked against the
// bytes actually present before it is used, so a truncated or hostile file gives a loom::Error,
// never an out-of-range read. The checks follow the format's reference implementation
// (header length at most 100 MB, the header starts with '{', the tensors tile the data region
// exactly) plus two of loom's own (duplicate names, BOOL bytes other than 0/1).
#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "loom's safetensors code copies raw bytes and assumes a little-endian host"
#endif

namespace loom::nn {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

// safetensors dtype names that are valid in the format but have no loom DType.
constexpr const char* kUnsupportedDtypes[] = {
    "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

bool dtype_from_safetensors(const std::string& s, DType* out) {
  for (DType d : kEveryDType) {
    if (s == safetensors_dtype_name(d)) {
      *out = d;
      return true;
    }
  }
  return false;
}

std::string errno_text() {
  return std::strerror(errno);
}

// Reads a JSON value that must be a non-negative integer that fits in int64.
bool as_index(const json& v, std::int64_t* out) {
  if (!v.is_number_unsigned()) return false;
  const auto u = v.get<std::uint64_t>();
  if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
  *out = static_cast<std::int64_t>(u);
  return true;
}

// Where one tensor's bytes lie in the data region, for the tiling check.
struct Span {
  std::int64_t begin, end;
  std::size_t record;  // index into SafetensorsContents::tensors
};

// The element count of a shape that came from outside (a file's header, a caller's record):
// loom::numel trusts its input, and extents up to 2^63 each would overflow its product. A shape
// with a zero extent is empty whatever its other extents ([0, 2^62, 2^62] is not an overflow).
std::int64_t checked_numel(const Shape& shape) {
  for (std::int64_t d : shape) {
    LOOM_CHECK(d >= 0, "shape ", shape_str(shape), " has a negative extent");
  }
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    LOOM_CHECK(n <= std::numeric_limits<std::int64_t>::max() / d, "shape ", shape_str(shape),
               " has more elements than int64 can count");
    n *= d;
  }
  return numel(shape);
}

void check_record(const TensorRecord& r, const char* op) {
  LOOM_CHECK(!r.name.empty(), op, ": a tensor has an empty name");
  LOOM_CHECK(r.name != kMetadataKey, op, ": '", kMetadataKey,
             "' is reserved for metadata and cannot name a tensor");
  const std::int64_t count = checked_numel(r.shape);
  const std::uint64_t want = static_cast<std::uint64_t>(count) * dtype_size(r.dtype);
  LOOM_CHECK(r.bytes.size() == want, op, ": tensor '", r.name, "' of dtype ", dtype_name(r.dtype),
             " and shape ", shape_str(r.shape), " needs ", want, " bytes but has ", r.bytes.size());
}

// Parses one header entry {"dtype", "shape", "data_offsets"} into `rec` and `span`.
// `where` is "safetensors '<file>'", used to prefix every message.
void parse_entry(const std::string& where, const std::string& name, const json& entry,
                 std::int64_t data_size, TensorRecord* rec, Span* span) {
  const std::string what = where + ": tensor '" + name + "'";
  LOOM_CHECK(entry.is_object(), what, ": header entry is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    LOOM_CHECK(entry.contains(field), what, ": header entry has no \"", field, "\"");
  }
  const json& jd = entry["dtype"];
  LOOM_CHECK(jd.is_string(), what, ": \"dtype\" is not a string");
  const std::string ds = jd.get<std::string>();
  if (!dtype_from_safetensors(ds, &rec->dtype)) {
    const bool known = std::any_of(std::begin(kUnsupportedDtypes), std::end(kUnsupportedDtypes),
                                   [&](const char* u) { return ds == u; });
    LOOM_FAIL(where, ": ", known ? "unsupported" : "unknown", " dtype ", ds, " for tensor '", name,
              "' (loom reads F64, F32, F16, I32, I64 and BOOL)");
  }

  const json& js = entry["shape"];
  LOOM_CHECK(js.is_array(), what, ": \"shape\" is not an array");
  rec->shape.clear();
  for (const json& e : js) {
    std::int64_t extent = 0;
    LOOM_CHECK(as_index(e, &extent), what, ": shape ", js.dump(),
               " has an entry that is not a non-negative integer");
    rec->shape.push_back(extent);
  }

  const json& jo = entry["data_offsets"];
  LOOM_CHECK(jo.is_array() && jo.size() == 2, what, ": \"data_offsets\" ", jo.dump(),
             " is not a [begin, end] pair");
  LOOM_CHECK(as_index(jo[0], &span->begin) && as_index(jo[1], &span->end), what,
             ": \"data_offsets\" ", jo.dump(), " are not non-negative integers");
  LOOM_CHECK(span->begin <= span->end, what, ": data_offsets [", span->begin, ", ", span->end,
             "] have begin > end");
  LOOM_CHECK(span->end <= data_size, what, ": data_offsets [", span->begin, ", ", span->end,
             "] run past the end of the data region (", data_size, " bytes; truncated file?)");

  std::int64_t count = 0;
  try {
    count = checked_numel(rec->shape);
  } catch (const Error& e) {
    LOOM_FAIL(what, ": ", e.what());
  }
  const auto elem = static_cast<std::int64_t>(dtype_size(rec->dtype));
  LOOM_CHECK(count <= std::numeric_limits<std::int64_t>::max() / elem, what, ": shape ",
             shape_str(rec->shape), " is too large");
  LOOM_CHECK(span->end - span->begin == count * elem, what, ": data_offsets [", span->begin, ", ",
             span->end, "] hold ", span->end - span->begin, " bytes but dtype ", ds, " x shape ",
             shape_str(rec->shape), " needs ", count * elem);
}

// Step 1 of decoding: the 8-byte header length N, checked against the file's size and the
// format's limits, and the header's first bytes.
std::uint64_t read_header_length(const std::vector<std::uint8_t>& file, const std::string& where) {
  LOOM_CHECK(file.size() >= 8, where, ": file is ", file.size(),
             " bytes, too short for the 8-byte header length (truncated?)");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<std::uint64_t>(file[i]) << (8 * i);
  LOOM_CHECK(n <= kMaxHeaderBytes, where, ": header length ", n,
             " exceeds the 100 MB limit (corrupted length field, or not a safetensors file)");
  LOOM_CHECK(n <= file.size() - 8, where, ": header length ", n, " but only ", file.size() - 8,
             " bytes follow the length field (truncated or corrupted)");
  LOOM_CHECK(n >= 2 && file[8] == '{', where,
             ": header does not start with '{' (corrupted, or not a safetensors file)");

  // JSON text never holds a raw NUL, and nlohmann's lexer would take one for the end of input,
  // silently ignoring whatever follows it.
  const auto* nul = static_cast<const std::uint8_t*>(std::memchr(file.data() + 8, 0, n));
  LOOM_CHECK(nul == nullptr, where, ": header contains a NUL byte at offset ",
             nul ? nul - file.data() : 0, " (corrupted)");
  return n;
}

// Step 2: the N header bytes as a JSON object, refusing a name that appears twice.
json parse_header(const std::vector<std::uint8_t>& file, std::uint64_t n,
                  const std::string& where) {
  // Parse with a callback that sees every key as it is read: nlohmann's DOM silently keeps one
  // of two equal keys, and a duplicate tensor name must be an error, not a coin toss.
  std::set<std::string> seen;
  std::string duplicate;
  const auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  const char* text = reinterpret_cast<const char*>(file.data()) + 8;
  try {
    header = json::parse(text, text + n, on_event);
  } catch (const json::exception& e) {
    LOOM_FAIL(where, ": header is not valid JSON (", e.what(), ")");
  }
  LOOM_CHECK(header.is_object(), where, ": header is not a JSON object");
  LOOM_CHECK(duplicate.empty(), where, ": name '", duplicate, "' appears twice in the header");
  return header;
}

// Step 3: the metadata strings into out->metadata, and one record (no bytes yet) per tensor
// entry into out->tensors, with where its bytes lie in `spans`.
void read_header_entries(const json& header, std::int64_t data_size, const std::string& where,
                         SafetensorsContents* out, std::vector<Span>* spans) {
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      LOOM_CHECK(entry.is_object(), where, ": \"", kMetadataKey, "\" is not a JSON object");
      for (const auto& [k, v] : entry.items()) {
        LOOM_CHECK(v.is_string(), where, ": metadata value for '", k, "' is not a string");
        out->metadata[k] = v.get<std::string>();
      }
      continue;
    }
    TensorRecord rec;
    rec.name = name;
    Span span{};
    parse_entry(where, name, entry, data_size, &rec, &span);
    span.record = out->tensors.size();
    out->tensors.push_back(std::move(rec));
    spans->push_back(span);
  }
}

// Step 4: the tensors must tile [0, data_size): sorted by offset (in place), each begins where
// the last ended.
void check_tiling(std::vector<Span>* spans, const SafetensorsContents& contents,
                  std::int64_t data_size, const std::string& where) {
  std::sort(spans->begin(), spans->end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::int64_t covered = 0;
  const std::string* previous = nullptr;
  for (const Span& s : *spans) {
    const std::string& name = contents.tensors[s.record].name;
    LOOM_CHECK(s.begin >= covered, where, ": tensor '", name, "' at data_offsets [", s.begin, ", ",
               s.end, "] overlaps tensor '", previous ? *previous : "", "' (which ends at ",
               covered, ")");
    LOOM_CHECK(s.begin == covered, where, ": gap in the data region: bytes [", covered, ", ",
               s.begin, ") before tensor '", name, "' belong to no tensor");
    covered = s.end;
    previous = &name;
  }
  LOOM_CHECK(covered == data_size, where, ": the data region has ", data_size,
             " bytes but the tensors cover only ", covered, " (trailing bytes, or a lost entry)");
}

// Step 5: each record's bytes copied out of the data region, returned in file order (the order
// of the sorted `spans`); a BOOL byte other than 0 or 1 is an error.
std::vector<TensorRecord> copy_tensor_bytes(const std::uint8_t* data,
                                            const std::vector<Span>& spans,
                                            std::vector<TensorRecord>* records,
                                            const std::string& where) {
  std::vector<TensorRecord> ordered;
  ordered.reserve(spans.size());
  for (const Span& s : spans) {
    TensorRecord& r = (*records)[s.record];
    r.bytes.assign(data + s.begin, data + s.end);
    if (r.dtype == DType::Bool) {
      for (std::uint8_t b : r.bytes) {
        LOOM_CHECK(b <= 1, where, ": tensor '", r.name, "' of dtype BOOL holds byte ",
                   static_cast<int>(b), " (only 0 and 1 are booleans)");
      }
    }
    ordered.push_back(std::move(r));
  }
  return ordered;
}

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float64:
      return "F64";
    case DType::Float32:
      return "F32";
    case DType::Float16:
      return "F16";
    case DType::Int32:
      return "I32";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      return "BOOL";
    case DType::BFloat16:
      return "BF16";
    case DType::Int8:
      return "I8";
    case DType::UInt8:
      return "U8";
  }
  LOOM_FAIL("safetensors_dtype_name: unknown DType value ", static_cast<int>(dtype));
}

const TensorRecord* SafetensorsContents::find(const std::string& name) const {
  for (const TensorRecord& r : tensors) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const TensorRecord& SafetensorsContents::at(const std::string& name) const {
  const TensorRecord* r = find(name);
  LOOM_CHECK(r != nullptr, "safetensors: no tensor named '", name, "'");
  return *r;
}

std::vector<std::uint8_t> encode_safetensors(const std::vector<TensorRecord>& tensors,
                                             const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (const TensorRecord& r : tensors) {
    check_record(r, "save_safetensors");
    LOOM_CHECK(names.insert(r.name).second, "save_safetensors: tensor name '", r.name,
               "' appears twice");
  }

  // Larger elements first, then by name (the reference writer's order). The header is padded
  // so the data region starts 8-aligned; with this order every tensor then starts at a multiple
  // of its element size, so a reader may use the bytes in place.
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::size_t sa = dtype_size(tensors[a].dtype), sb = dtype_size(tensors[b].dtype);
    return sa != sb ? sa > sb : tensors[a].name < tensors[b].name;
  });

  // ordered_json keeps insertion order: "__metadata__" first, then tensors in data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata)
      meta[k] = v;
    header[kMetadataKey] = meta;
  }
  std::uint64_t offset = 0;
  for (std::size_t i : order) {
    const TensorRecord& r = tensors[i];
    nlohmann::ordered_json e;
    e["dtype"] = safetensors_dtype_name(r.dtype);
    e["shape"] = r.shape;
    e["data_offsets"] = {offset, offset + r.bytes.size()};
    header[r.name] = e;
    offset += r.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<std::uint8_t> out;
  out.reserve(8 + text.size() + offset);
  const std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  for (std::size_t i : order) {
    out.insert(out.end(), tensors[i].bytes.begin(), tensors[i].bytes.end());
  }
  return out;
}

SafetensorsContents decode_safetensors(const std::vector<std::uint8_t>& file,
                                       const std::string& source) {
  const std::string where = "safetensors '" + source + "'";
  const std::uint64_t n = read_header_length(file, where);
  const json header = parse_header(file, n, where);
  SafetensorsContents out;
  std::vector<Span> spans;
  const auto data_size = static_cast<std::int64_t>(file.size() - 8 - n);
  read_header_entries(header, data_size, where, &out, &spans);
  check_tiling(&spans, out, data_size, where);
  out.tensors = copy_tensor_bytes(file.data() + 8 + n, spans, &out.tensors, where);
  return out;
}

void write_file_atomically(const std::string& path, const void* data, std::size_t size) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  LOOM_CHECK(fd >= 0, "cannot create '", tmp, "': ", errno_text());
  // On any failure below: close, remove the temporary, and report. `path` is untouched.
  const auto fail = [&](const std::string& what) {
    const std::string err = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    LOOM_FAIL(what, " '", tmp, "' (for '", path, "'): ", err);
  };
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t w = ::write(fd, bytes + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("cannot write");
    done += static_cast<std::size_t>(w);
  }
  // fsync before rename: otherwise a crash can leave the new name pointing at empty blocks.
  if (::fsync(fd) != 0) fail("cannot fsync");
  if (::close(fd) != 0) {
    const std::string err = errno_text();
    ::unlink(tmp.c_str());
    LOOM_FAIL("cannot close '", tmp, "': ", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = errno_text();
    ::unlink(tmp.c_str());
    LOOM_FAIL("cannot rename '", tmp, "' to '", path, "': ", err);
  }
  // Make the rename itself durable (best effort: some file systems refuse fsync on a directory).
  const std::string::size_type slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void save_safetensors(const std::string& path, const std::vector<TensorRecord>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::vector<std::uint8_t> bytes = encode_safetensors(tensors, metadata);
  try {
    write_file_atomically(path, bytes.data(), bytes.size());
  } catch (const Error& e) {
    LOOM_FAIL("save_safetensors: ", e.what());
  }
}

SafetensorsContents load_safetensors(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  LOOM_CHECK(fd >= 0, "safetensors '", path, "': cannot open: ", errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    LOOM_FAIL("safetensors '", path, "': not a regular file");
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      const std::string err = r < 0 ? errno_text() : "file shrank while reading";
      ::close(fd);
      LOOM_FAIL("safetensors '", path, "': read failed after ", done, " bytes: ", err);
    }
    done += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return decode_safetensors(bytes, path);
}

}  // namespace loom::nn
