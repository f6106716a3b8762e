// tools/safetensors.hpp — a small, strict reader of the safetensors format, for lowbit's tools and tests.
//
// Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, then N
// bytes of JSON: {"__metadata__": {string: string}, "<name>": {"dtype": "F16", "shape": [..],
// "data_offsets": [begin, end]}, ...}, then the data block; offsets are relative to the data block.
//
// Everything is checked before a tensor is handed out: the header length fits the file, the header is a
// JSON object, each entry has a known dtype, a shape of non-negative integers and offsets inside the
// data block whose length matches dtype x shape, and no two tensors overlap. A violation throws
// lowbit_tools::format_error naming the file and, where it applies, the tensor.
//
// lowbit_tools::writer writes the format: the header first (data offsets back to back in the order given,
// padded with spaces so that the data block starts 8-byte aligned), then the tensors' bytes streamed in
// order, so that no tensor has to be in memory whole.
//
// Not part of the lowbit headers: it needs nlohmann/json (Debian: nlohmann-json3-dev).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#if __has_include(<sys/mman.h>)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define LOWBIT_TOOLS_HAVE_MMAP 1
#endif

namespace lowbit_tools {

class format_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file that cannot be written (the message names it and says why).
class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bytes per element of a safetensors dtype; 0 for an unknown dtype.
inline std::size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},   {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2},
      {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},     {"U32", 4},     {"F32", 4},
      {"I64", 8},  {"U64", 8}, {"F64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

struct tensor {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  const std::uint8_t* data = nullptr;  // inside the file's data block; not necessarily aligned
  std::size_t bytes = 0;
  std::uint64_t offset = 0;  // of data in the data block

  std::uint64_t elements() const {
    std::uint64_t n = 1;
    for (std::uint64_t d : shape) n *= d;
    return n;
  }
  /// Rows when the last dimension is the row: the product of all leading dimensions (1 for a vector).
  std::uint64_t rows() const { return shape.empty() ? 1 : elements() / std::max<std::uint64_t>(shape.back(), 1); }
  std::uint64_t cols() const { return shape.empty() ? 1 : shape.back(); }

  /// A copy of the data as an array of T (any alignment; little-endian host assumed).
  template <class T>
  std::vector<T> copy_as() const {
    std::vector<T> out(bytes / sizeof(T));
    if (bytes != 0) std::memcpy(out.data(), data, out.size() * sizeof(T));
    return out;
  }
};

/// A safetensors file, read whole or memory-mapped, validated on open.
class file {
 public:
  /// Memory-maps (or reads) and validates path. Throws format_error (also when it cannot be opened).
  static file open(const std::string& path) {
    file f;
    f.path_ = path;
    f.load(path);
    f.parse();
    return f;
  }
  /// Validates an in-memory image; `label` names it in messages.
  static file from_bytes(std::vector<std::uint8_t> bytes, std::string label = "<memory>") {
    file f;
    f.path_ = std::move(label);
    f.owned_ = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
    f.base_ = f.owned_->data();
    f.size_ = f.owned_->size();
    f.parse();
    return f;
  }

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Tensors in the order of their data offsets.
  const std::vector<tensor>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const tensor& at(const std::string& name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) fail("has no tensor '" + name + "'");
    return tensors_[it->second];
  }
  std::size_t header_bytes() const { return header_bytes_; }
  std::size_t file_bytes() const { return size_; }

 private:
  struct mapping {
    void* address = nullptr;
    std::size_t length = 0;
    ~mapping() {
#ifdef LOWBIT_TOOLS_HAVE_MMAP
      if (address != nullptr) munmap(address, length);
#endif
    }
  };

  [[noreturn]] void fail(const std::string& what) const { throw format_error(path_ + ": " + what); }
  [[noreturn]] void fail_tensor(const std::string& name, const std::string& what) const {
    throw format_error(path_ + ": tensor '" + name + "': " + what);
  }

  void load(const std::string& path) {
#ifdef LOWBIT_TOOLS_HAVE_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) fail("cannot open: " + std::string(std::strerror(errno)));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      ::close(fd);
      fail("cannot stat");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) {
      ::close(fd);
      fail("file is empty (a safetensors file starts with an 8-byte header length)");
    }
    void* address = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (address == MAP_FAILED) fail("cannot memory-map");
    mapped_ = std::make_shared<mapping>();
    mapped_->address = address;
    mapped_->length = size_;
    base_ = static_cast<const std::uint8_t*>(address);
#else
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open");
    owned_ = std::make_shared<std::vector<std::uint8_t>>(std::istreambuf_iterator<char>(in),
                                                         std::istreambuf_iterator<char>());
    base_ = owned_->data();
    size_ = owned_->size();
#endif
  }

  void parse() {
    if (size_ < 8) fail("truncated: " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | base_[i];
    if (n > size_ - 8) {
      fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size_) +
           " bytes)");
    }
    header_bytes_ = static_cast<std::size_t>(n);
    const char* header = reinterpret_cast<const char*>(base_ + 8);
    nlohmann::json j = nlohmann::json::parse(header, header + n, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) fail("header is not valid JSON");
    if (!j.is_object()) fail("header is not a JSON object");
    const std::uint8_t* data = base_ + 8 + n;
    const std::uint64_t data_size = size_ - 8 - n;

    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& v = it.value();
      if (name == "__metadata__") {
        if (!v.is_object()) fail("__metadata__ is not an object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string()) fail("__metadata__ value '" + m.key() + "' is not a string");
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      if (!v.is_object()) fail_tensor(name, "entry is not an object");
      tensor t;
      t.name = name;
      const auto dtype = v.find("dtype");
      if (dtype == v.end() || !dtype->is_string()) fail_tensor(name, "missing string 'dtype'");
      t.dtype = dtype->get<std::string>();
      const std::size_t element = dtype_size(t.dtype);
      if (element == 0) fail_tensor(name, "unknown dtype '" + t.dtype + "'");
      const auto shape = v.find("shape");
      if (shape == v.end() || !shape->is_array()) fail_tensor(name, "missing array 'shape'");
      std::uint64_t elements = 1;
      for (const auto& d : *shape) {
        if (!d.is_number_unsigned()) fail_tensor(name, "shape has an entry that is not a non-negative integer");
        const std::uint64_t dim = d.get<std::uint64_t>();
        if (dim != 0 && elements > UINT64_MAX / dim) fail_tensor(name, "shape overflows");
        elements *= dim;
        t.shape.push_back(dim);
      }
      const auto offsets = v.find("data_offsets");
      if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
          !(*offsets)[1].is_number_unsigned()) {
        fail_tensor(name, "'data_offsets' must be two non-negative integers");
      }
      const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>();
      const std::uint64_t end = (*offsets)[1].get<std::uint64_t>();
      if (begin > end || end > data_size) {
        fail_tensor(name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                              "] are outside the data block of " + std::to_string(data_size) +
                              " bytes (is the file truncated?)");
      }
      if (elements > UINT64_MAX / element || end - begin != elements * element) {
        fail_tensor(name, "data_offsets span " + std::to_string(end - begin) + " bytes but dtype " + t.dtype +
                              " x shape needs " + std::to_string(elements * element));
      }
      t.data = data + begin;
      t.bytes = static_cast<std::size_t>(end - begin);
      t.offset = begin;
      tensors_.push_back(std::move(t));
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const tensor& a, const tensor& b) {
      return a.offset != b.offset ? a.offset < b.offset : a.bytes < b.bytes;
    });
    for (std::size_t i = 1; i < tensors_.size(); ++i) {
      const tensor& prev = tensors_[i - 1];
      if (tensors_[i].offset < prev.offset + prev.bytes) {
        fail_tensor(tensors_[i].name, "data overlaps tensor '" + prev.name + "'");
      }
    }
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  }

  std::string path_;
  std::shared_ptr<std::vector<std::uint8_t>> owned_;
  std::shared_ptr<mapping> mapped_;
  const std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
  std::size_t header_bytes_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<tensor> tensors_;
  std::map<std::string, std::size_t> index_;
};

// ---- writing ---------------------------------------------------------------------------------------

/// A tensor of a file to be written: its bytes follow from dtype and shape.
struct tensor_info {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;

  std::uint64_t bytes() const {
    std::uint64_t n = dtype_size(dtype);
    for (std::uint64_t d : shape) n *= d;
    return n;
  }
};

/// The header (JSON, space-padded to a multiple of 8 bytes) of a file holding `tensors` back to back in
/// this order. Throws format_error for an unknown dtype or a repeated name.
inline std::string make_header(const std::vector<tensor_info>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const tensor_info& t : tensors) {
    if (dtype_size(t.dtype) == 0) throw format_error("tensor '" + t.name + "': unknown dtype '" + t.dtype + "'");
    if (t.name == "__metadata__" || header.contains(t.name)) {
      throw format_error("tensor '" + t.name + "': the name is used twice");
    }
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes()}}};
    offset += t.bytes();
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');
  return text;
}

/// Writes one safetensors file sequentially: the header when constructed, then every tensor's bytes in
/// the order given, in pieces of any size (write), then finish(), which checks that every byte came,
/// flushes and syncs the file to disk. Any failure throws io_error naming the file. The writer never
/// removes what it wrote: the caller decides (lowbit-convert writes to a temporary name).
class writer {
 public:
  writer(std::string path, std::vector<tensor_info> tensors, const std::map<std::string, std::string>& metadata = {})
      : path_(std::move(path)), tensors_(std::move(tensors)) {
    const std::string header = make_header(tensors_, metadata);
    for (const tensor_info& t : tensors_) total_ += t.bytes();
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr) fail("cannot create: " + std::string(std::strerror(errno)));
    std::uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
    put(length, 8);
    put(header.data(), header.size());
  }
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() {
    if (file_ != nullptr) std::fclose(file_);
  }

  /// The next `bytes` bytes of the data block (of the current tensor, possibly running into the next).
  void write(const void* data, std::size_t bytes) {
    if (bytes > total_ - written_) {
      fail("writing " + std::to_string(bytes) + " bytes past the " + std::to_string(total_) +
           " bytes of data its header announces");
    }
    put(data, bytes);
    written_ += bytes;
  }

  /// Completes the file: every announced byte written, flushed and synced. Throws io_error otherwise.
  void finish() {
    if (written_ != total_) {
      fail("only " + std::to_string(written_) + " of " + std::to_string(total_) + " data bytes were written");
    }
    if (std::fflush(file_) != 0) fail("cannot write: " + std::string(std::strerror(errno)));
#ifdef LOWBIT_TOOLS_HAVE_MMAP
    if (fsync(fileno(file_)) != 0) fail("cannot sync to disk: " + std::string(std::strerror(errno)));
#endif
    const int closed = std::fclose(file_);
    file_ = nullptr;
    if (closed != 0) fail("cannot close: " + std::string(std::strerror(errno)));
  }

  const std::string& path() const { return path_; }
  const std::vector<tensor_info>& tensors() const { return tensors_; }
  /// Bytes of the data block (all tensors).
  std::uint64_t data_bytes() const { return total_; }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw io_error(path_ + ": " + what); }
  void put(const void* data, std::size_t bytes) {
    if (bytes != 0 && std::fwrite(data, 1, bytes, file_) != bytes) {
      fail("cannot write: " + std::string(std::strerror(errno)));
    }
  }

  std::string path_;
  std::vector<tensor_info> tensors_;
  std::FILE* file_ = nullptr;
  std::uint64_t total_ = 0, written_ = 0;
};

/// A tensor held in memory, for write_file.
struct tensor_bytes {
  tensor_info info;
  std::vector<std::uint8_t> data;
};

/// Writes a whole file from tensors in memory (their sizes must match dtype x shape).
inline void write_file(const std::string& path, const std::vector<tensor_bytes>& tensors,
                       const std::map<std::string, std::string>& metadata = {}) {
  std::vector<tensor_info> infos;
  for (const tensor_bytes& t : tensors) {
    if (t.data.size() != t.info.bytes()) {
      throw format_error(path + ": tensor '" + t.info.name + "': " + std::to_string(t.data.size()) +
                         " bytes given, dtype x shape needs " + std::to_string(t.info.bytes()));
    }
    infos.push_back(t.info);
  }
  writer w(path, std::move(infos), metadata);
  for (const tensor_bytes& t : tensors) w.write(t.data.data(), t.data.size());
  w.finish();
}

}  // namespace lowbit_tools
