// tools/convert.hpp — the engine of lowbit-convert: an MLX quantized model directory to dense safetensors.
//
//   lowbit_tools::convert_options options;
//   options.model_dir = "Qwen3-0.6B-4bit";  options.out_dir = "Qwen3-0.6B-dense";
//   lowbit_tools::convert_summary summary = lowbit_tools::convert_model(options);
//
// Input, as mlx-lm writes it:
//   config.json        with "quantization" (or, when that is absent, "quantization_config"):
//                      {"group_size": 64, "bits": 4, "mode": "affine", <per-layer overrides>}; an override is
//                      keyed by a layer's module path and is either an object with its own bits / group_size /
//                      mode (missing keys come from the defaults) or false for a layer left unquantized.
//                      Override keys are matched exactly against tensor names less ".weight" (no "model."
//                      prefix is added or removed); an override that matches no tensor is reported as a warning.
//   model.safetensors, or the shards listed by model.safetensors.index.json ("weight_map").
// A layer <p> is quantized iff <p>.scales exists: then <p>.weight holds U32 packed codes. In mode affine,
// <p>.biases holds the biases; in the floating-point modes (mxfp4, nvfp4, mxfp8: lowbit/fp.hpp) the scales
// are U8 codes, there are no biases, and an nvfp4 layer may have a one-value F32 <p>.global_scale. Every
// other tensor is copied unchanged.
//
// Output in out_dir: the same shards (and index) with each quantized layer's <p>.weight dense — in the
// scales' dtype (fp modes: bfloat16, or float32 with a global scale, as MLX returns), or options.dtype —
// and <p>.scales / <p>.biases / <p>.global_scale dropped; config.json without "quantization"
// and "quantization_config"; every other regular file of model_dir (tokenizer, ...) copied.
//
// Everything is validated before anything is written (a malformed input names the file and the tensor:
// convert_error("<file>: tensor '<name>': <what>")). Each output file is written to "<name>.tmp" and renamed
// only when all of them are complete: a failed, cancelled or killed run leaves no file that looks finished
// (after a kill, only *.tmp files), and a failed one removes its temporaries.
//
// Not part of the lowbit headers: it needs nlohmann/json (Debian: nlohmann-json3-dev) and threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <lowbit/lowbit.hpp>
#include <nlohmann/json.hpp>

#include "safetensors.hpp"

namespace lowbit_tools {

/// A model directory lowbit-convert refuses, or a conversion that failed; the message names the file and,
/// where it applies, the tensor.
class convert_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct convert_progress {
  std::uint64_t bytes_done = 0, bytes_total = 0;  // of tensor data written
  std::string file;                               // the output file being written
};

struct convert_options {
  std::string model_dir, out_dir;
  std::string dtype;  // "float16", "bfloat16" or "float32"; empty: each layer's scales dtype (as MLX)
  unsigned threads = 1;
  std::function<void(const convert_progress&)> on_progress;  // after every piece of data written
  const std::atomic<bool>* cancel = nullptr;                  // when it becomes true: stop, clean up, throw
};

struct convert_summary {
  std::size_t shards = 0, tensors = 0, dequantized = 0, copied_files = 0;
  std::uint64_t bytes_written = 0;  // tensor data
  std::vector<std::string> warnings;
  std::string dtype;  // what dequantized layers were written as ("float16", ..., or "the scales' dtype")
};

namespace convert_detail {

namespace fs = std::filesystem;

// ---- the quantization entry of config.json -----------------------------------------------------------------

struct quant_params {
  std::string mode = "affine";
  int bits = 0, group_size = 0;
};

struct quantization {
  bool present = false;
  std::string key;  // "quantization" or "quantization_config"
  quant_params defaults;
  std::map<std::string, std::optional<quant_params>> overrides;  // nullopt: left unquantized (false)
};

[[noreturn]] inline void fail(const std::string& file, const std::string& what) {
  throw convert_error(file + ": " + what);
}
[[noreturn]] inline void fail(const std::string& file, const std::string& tensor, const std::string& what) {
  throw convert_error(file + ": tensor '" + tensor + "': " + what);
}

inline void read_params(const nlohmann::ordered_json& j, quant_params& p, const std::string& where) {
  for (const char* key : {"bits", "group_size"}) {
    const auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_number_integer()) fail("config.json", where + "." + key + " must be an integer");
    (std::string(key) == "bits" ? p.bits : p.group_size) = it->get<int>();
  }
  const auto mode = j.find("mode");
  if (mode != j.end()) {
    if (!mode->is_string()) fail("config.json", where + ".mode must be a string");
    p.mode = mode->get<std::string>();
  }
}

inline quantization read_quantization(const nlohmann::ordered_json& config) {
  quantization q;
  for (const char* key : {"quantization", "quantization_config"}) {
    if (config.contains(key)) {
      q.key = key;
      break;
    }
  }
  if (q.key.empty()) return q;
  const nlohmann::ordered_json& j = config[q.key];
  if (!j.is_object()) fail("config.json", "'" + q.key + "' is not an object");
  q.present = true;
  read_params(j, q.defaults, q.key);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "bits" || it.key() == "group_size" || it.key() == "mode") continue;
    if (it->is_object()) {
      quant_params p = q.defaults;
      read_params(*it, p, q.key + "." + it.key());
      q.overrides[it.key()] = p;
    } else if (it->is_boolean()) {
      q.overrides[it.key()] = it->get<bool>() ? std::optional<quant_params>(q.defaults) : std::nullopt;
    }  // other entries (e.g. "quant_method") say nothing about layers
  }
  return q;
}

// ---- the plan: every output tensor, validated -----------------------------------------------------------------

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

inline std::string dtype_of_name(const std::string& name) {
  if (name == "float16") return "F16";
  if (name == "bfloat16") return "BF16";
  if (name == "float32") return "F32";
  return "";
}

struct located {
  std::size_t shard;
  const tensor* t;
};

// One output tensor: copied from `source`, or dequantized from weight/scales/biases with `params`.
struct planned_tensor {
  tensor_info out;
  std::size_t shard = 0;
  const tensor* source = nullptr;  // the copied tensor, or the packed weight
  const tensor* scales = nullptr;  // set for a dequantized layer
  const tensor* biases = nullptr;  // affine only
  const tensor* global_scale = nullptr;  // nvfp4 only, when the layer has one
  lowbit::mode mode = lowbit::mode::affine;
  quant_params params;
  std::uint64_t rows = 0, cols = 0;
};

struct model {
  fs::path dir;
  nlohmann::ordered_json config;
  quantization quant;
  bool indexed = false;
  nlohmann::ordered_json index;            // model.safetensors.index.json, when indexed
  std::vector<std::string> shard_names;    // file names in model_dir
  std::vector<file> shards;                // opened and validated
  std::map<std::string, located> tensors;  // every tensor of every shard
};

inline nlohmann::ordered_json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.filename().string(), "cannot open: " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail(path.filename().string(), "is not valid JSON");
  if (!j.is_object()) fail(path.filename().string(), "is not a JSON object");
  return j;
}

inline model open_model(const std::string& dir) {
  model m;
  m.dir = dir;
  if (!fs::is_directory(m.dir)) fail(dir, "is not a directory");
  if (!fs::exists(m.dir / "config.json")) fail(dir, "has no config.json (an MLX model directory has one)");
  m.config = read_json(m.dir / "config.json");
  m.quant = read_quantization(m.config);

  const std::string index_name = "model.safetensors.index.json";
  if (fs::exists(m.dir / index_name)) {
    m.indexed = true;
    m.index = read_json(m.dir / index_name);
    const auto map = m.index.find("weight_map");
    if (map == m.index.end() || !map->is_object()) fail(index_name, "has no object 'weight_map'");
    for (auto it = map->begin(); it != map->end(); ++it) {
      if (!it->is_string()) fail(index_name, it.key(), "its shard is not a file name");
      const std::string shard = it->get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
        fail(index_name, it.key(), "shard '" + shard + "' is not a file name in the model directory");
      }
      if (std::find(m.shard_names.begin(), m.shard_names.end(), shard) == m.shard_names.end()) {
        m.shard_names.push_back(shard);
      }
    }
  } else if (fs::exists(m.dir / "model.safetensors")) {
    m.shard_names.push_back("model.safetensors");
  } else {
    fail(dir, "has neither model.safetensors nor model.safetensors.index.json");
  }

  for (const std::string& name : m.shard_names) {
    if (!fs::is_regular_file(m.dir / name)) fail(name, "is missing (listed in " + index_name + ")");
    try {
      m.shards.push_back(file::open((m.dir / name).string()));
    } catch (const format_error& e) {  // names the full path; report the file name as everywhere else
      std::string what = e.what();
      const std::string full = (m.dir / name).string() + ": ";
      if (what.compare(0, full.size(), full) == 0) what = what.substr(full.size());
      fail(name, what);
    }
  }
  for (std::size_t s = 0; s < m.shards.size(); ++s) {
    for (const tensor& t : m.shards[s].tensors()) {
      const auto [it, inserted] = m.tensors.emplace(t.name, located{s, &t});
      if (!inserted) fail(m.shard_names[s], t.name, "also in " + m.shard_names[it->second.shard]);
      if (m.indexed) {
        const auto& map = m.index["weight_map"];
        if (!map.contains(t.name)) fail(m.shard_names[s], t.name, "is not listed in " + index_name);
        if (map[t.name].get<std::string>() != m.shard_names[s]) {
          fail(m.shard_names[s], t.name, index_name + " places it in " + map[t.name].get<std::string>());
        }
      }
    }
  }
  if (m.indexed) {
    for (auto it = m.index["weight_map"].begin(); it != m.index["weight_map"].end(); ++it) {
      if (m.tensors.count(it.key()) == 0) fail(it->get<std::string>(), it.key(), "is listed in " + index_name + " but missing");
    }
  }
  return m;
}

// A layer quantized in a floating-point mode (mxfp4, nvfp4, mxfp8): uint8 scale codes, no biases, bits and
// group size fixed by the mode (config.json may state them; they must agree), and for nvfp4 an optional
// float32 global scale in <prefix>.global_scale. The default output is what MLX's dequantize returns:
// bfloat16, or float32 with a global scale.
inline planned_tensor plan_fp_layer(const model& m, const std::string& prefix, const std::string& out_dtype,
                                    lowbit::mode mode, quant_params p) {
  const located weight = m.tensors.at(prefix + ".weight");
  const located scales = m.tensors.at(prefix + ".scales");
  const std::string& file = m.shard_names[weight.shard];
  const std::string weight_name = prefix + ".weight";
  const std::string name = lowbit::mode_name(mode);
  const int bits = lowbit::mode_bits(mode), group_size = lowbit::mode_group_size(mode);
  if ((p.bits != 0 && p.bits != bits) || (p.group_size != 0 && p.group_size != group_size)) {
    fail(file, weight_name, "mode " + name + " takes bits " + std::to_string(bits) + " and group_size " +
                                std::to_string(group_size) + "; config.json says bits " + std::to_string(p.bits) +
                                " and group_size " + std::to_string(p.group_size));
  }
  p.bits = bits, p.group_size = group_size;
  if (m.tensors.count(prefix + ".biases") != 0) {
    fail(m.shard_names[m.tensors.at(prefix + ".biases").shard], prefix + ".biases", "mode " + name + " has no biases");
  }
  const tensor& w = *weight.t;
  const tensor& s = *scales.t;
  const std::string& scales_file = m.shard_names[scales.shard];
  if (w.dtype != "U32") fail(file, weight_name, "dtype " + w.dtype + ", but a quantized weight (it has scales) is U32");
  if (s.dtype != "U8") fail(scales_file, s.name, "dtype " + s.dtype + "; mode " + name + " scales are U8 codes");
  const tensor* global = nullptr;
  const auto g = m.tensors.find(prefix + ".global_scale");
  if (g != m.tensors.end()) {
    global = g->second.t;
    const std::string& gfile = m.shard_names[g->second.shard];
    if (mode != lowbit::mode::nvfp4) fail(gfile, global->name, "a global scale is only used by nvfp4, not " + name);
    if (global->dtype != "F32" || global->elements() != 1) {
      fail(gfile, global->name, "a global scale is one F32 value; got dtype " + global->dtype + ", shape " +
                                    shape_text(global->shape));
    }
  }
  if (w.shape.empty() || s.shape.size() != w.shape.size() ||
      !std::equal(w.shape.begin(), w.shape.end() - 1, s.shape.begin())) {
    fail(file, weight_name, "shape " + shape_text(w.shape) + " does not match the scales' " + shape_text(s.shape) +
                                " (same leading dimensions, last: packed words vs groups)");
  }
  const std::uint64_t groups = s.shape.back();
  const std::uint64_t cols = groups * static_cast<std::uint64_t>(group_size);
  const std::uint64_t words = cols / 32 * static_cast<std::uint64_t>(bits);
  if (groups > (UINT64_MAX >> 16) || w.shape.back() != words) {
    fail(file, weight_name, "shape " + shape_text(w.shape) + " disagrees with mode " + name + ": " +
                                std::to_string(groups) + " groups per row make " + std::to_string(cols) +
                                " columns, packed in " + std::to_string(words) + " words per row, not " +
                                std::to_string(w.shape.back()));
  }
  planned_tensor t;
  t.out.name = weight_name;
  t.out.dtype = !out_dtype.empty() ? out_dtype : global != nullptr ? "F32" : "BF16";
  t.out.shape = w.shape;
  t.out.shape.back() = cols;
  t.shard = weight.shard;
  t.source = &w;
  t.scales = &s;
  t.global_scale = global;
  t.mode = mode;
  t.params = p;
  t.cols = cols;
  t.rows = 1;
  for (std::size_t i = 0; i + 1 < w.shape.size(); ++i) t.rows *= w.shape[i];
  return t;
}

// The checks of one quantized layer <prefix>: its parameters, and dtypes and shapes that agree with them.
inline planned_tensor plan_layer(const model& m, const std::string& prefix, const std::string& out_dtype) {
  const located weight = m.tensors.at(prefix + ".weight");
  const located scales = m.tensors.at(prefix + ".scales");
  const std::string& file = m.shard_names[weight.shard];
  const std::string weight_name = prefix + ".weight";
  if (!m.quant.present) {
    fail(m.shard_names[scales.shard], prefix + ".scales",
         "the layer is quantized but config.json has no 'quantization' entry with its bits and group_size");
  }
  const auto override = m.quant.overrides.find(prefix);
  if (override != m.quant.overrides.end() && !override->second) {
    fail(m.shard_names[scales.shard], prefix + ".scales",
         "config.json marks '" + prefix + "' as not quantized (false), but it has scales");
  }
  quant_params p = override != m.quant.overrides.end() ? *override->second : m.quant.defaults;
  lowbit::mode mode;
  if (!lowbit::try_parse_mode(p.mode, mode)) {
    fail(file, weight_name, "mode " + p.mode + " (from config.json) is not supported; supported: affine, mxfp4, nvfp4, mxfp8");
  }
  if (lowbit::is_fp_mode(mode)) return plan_fp_layer(m, prefix, out_dtype, mode, p);
  if (!lowbit::format::is_supported_bits(p.bits)) {
    fail(file, weight_name, "bits " + std::to_string(p.bits) + " (from config.json) is not supported; supported: 1 to 8");
  }
  if (!lowbit::format::is_supported_group_size(p.group_size)) {
    fail(file, weight_name,
         "group_size " + std::to_string(p.group_size) + " (from config.json) is not supported; supported: 32, 64, 128");
  }
  const auto biases_it = m.tensors.find(prefix + ".biases");
  if (biases_it == m.tensors.end()) fail(file, weight_name, "missing biases '" + prefix + ".biases' (mode affine)");
  const tensor& w = *weight.t;
  const tensor& s = *scales.t;
  const tensor& b = *biases_it->second.t;
  const std::string& scales_file = m.shard_names[scales.shard];
  const std::string& biases_file = m.shard_names[biases_it->second.shard];
  if (w.dtype != "U32") {
    fail(file, weight_name, "dtype " + w.dtype + ", but a quantized weight (it has scales) is U32");
  }
  if (s.dtype != "F16" && s.dtype != "BF16" && s.dtype != "F32") {
    fail(scales_file, s.name, "dtype " + s.dtype + "; scales are F16, BF16 or F32");
  }
  if (b.dtype != s.dtype) fail(biases_file, b.name, "dtype " + b.dtype + " differs from the scales' " + s.dtype);
  if (b.shape != s.shape) {
    fail(biases_file, b.name, "shape " + shape_text(b.shape) + " differs from the scales' " + shape_text(s.shape));
  }
  if (w.shape.empty() || s.shape.size() != w.shape.size() ||
      !std::equal(w.shape.begin(), w.shape.end() - 1, s.shape.begin())) {
    fail(file, weight_name, "shape " + shape_text(w.shape) + " does not match the scales' " + shape_text(s.shape) +
                                " (same leading dimensions, last: packed words vs groups)");
  }
  const std::uint64_t groups = s.shape.back();
  const std::uint64_t cols = groups * static_cast<std::uint64_t>(p.group_size);
  const std::uint64_t words = cols / 32 * static_cast<std::uint64_t>(p.bits);
  if (groups > (UINT64_MAX >> 16) || w.shape.back() != words) {
    fail(file, weight_name,
         "shape " + shape_text(w.shape) + " disagrees with bits " + std::to_string(p.bits) + " and group_size " +
             std::to_string(p.group_size) + ": " + std::to_string(groups) + " groups per row (scales " +
             shape_text(s.shape) + ") make " + std::to_string(cols) + " columns, packed in " + std::to_string(words) +
             " words per row, not " + std::to_string(w.shape.back()));
  }
  planned_tensor t;
  t.out.name = weight_name;
  t.out.dtype = out_dtype.empty() ? s.dtype : out_dtype;
  t.out.shape = w.shape;
  t.out.shape.back() = cols;
  t.shard = weight.shard;
  t.source = &w;
  t.scales = &s;
  t.biases = &b;
  t.params = p;
  t.cols = cols;
  t.rows = 1;  // the product of the leading dimensions
  for (std::size_t i = 0; i + 1 < w.shape.size(); ++i) t.rows *= w.shape[i];
  return t;
}

// Every output tensor, per shard, in the input's order; scales and biases are consumed by their layer.
inline std::vector<std::vector<planned_tensor>> plan(const model& m, const std::string& out_dtype,
                                                     std::vector<std::string>& warnings) {
  std::vector<std::vector<planned_tensor>> shards(m.shards.size());
  auto has = [&](const std::string& name) { return m.tensors.count(name) != 0; };
  std::set<std::string> quantized_prefixes;
  for (std::size_t s = 0; s < m.shards.size(); ++s) {
    for (const tensor& t : m.shards[s].tensors()) {
      const std::string& file = m.shard_names[s];
      for (const char* part : {".scales", ".biases"}) {
        if (!ends_with(t.name, part)) continue;
        const std::string prefix = t.name.substr(0, t.name.size() - std::strlen(part));
        if (!has(prefix + ".scales")) {
          fail(file, t.name, "missing scales '" + prefix + ".scales' for these biases");
        }
        if (!has(prefix + ".weight")) fail(file, t.name, "missing the quantized weight '" + prefix + ".weight'");
      }
      if (ends_with(t.name, ".scales") || ends_with(t.name, ".biases")) continue;
      if (ends_with(t.name, ".global_scale") && has(t.name.substr(0, t.name.size() - 13) + ".scales")) continue;
      const std::string prefix = ends_with(t.name, ".weight") ? t.name.substr(0, t.name.size() - 7) : std::string();
      if (!prefix.empty() && has(prefix + ".scales")) {
        shards[s].push_back(plan_layer(m, prefix, out_dtype));
        quantized_prefixes.insert(prefix);
        continue;
      }
      if (!prefix.empty() && t.dtype == "U32") {
        fail(file, t.name, "dtype U32 (packed) but missing scales '" + prefix + ".scales'");
      }
      planned_tensor copy;
      copy.out = {t.name, t.dtype, t.shape};
      copy.shard = s;
      copy.source = &t;
      shards[s].push_back(std::move(copy));
    }
  }
  for (const auto& [key, params] : m.quant.overrides) {
    if (!has(key + ".weight")) {
      warnings.push_back("config.json: " + m.quant.key + " entry '" + key +
                         "' matches no tensor '" + key + ".weight' (override keys are matched exactly)");
    } else if (params && quantized_prefixes.count(key) == 0 && m.tensors.at(key + ".weight").t->dtype != "U32") {
      warnings.push_back("config.json: " + m.quant.key + " entry '" + key +
                         "' describes a quantized layer, but it has no scales; copied unchanged");
    }
  }
  return shards;
}

// ---- writing ------------------------------------------------------------------------------------------------

// The storage type of a safetensors float dtype.
template <class F>
void with_float_type(const std::string& dtype, F&& f) {
  if (dtype == "F32") return f(static_cast<float*>(nullptr));
  if (dtype == "F16") return f(static_cast<lowbit::half*>(nullptr));
  return f(static_cast<lowbit::bfloat16*>(nullptr));  // BF16 (validated)
}

// Pointers into a memory-mapped file need not be aligned for their type; such data is read from a copy.
template <class T>
const T* aligned(const std::uint8_t* data, std::size_t count, std::vector<T>& copy) {
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(T) == 0) return reinterpret_cast<const T*>(data);
  copy.resize(count);
  std::memcpy(copy.data(), data, count * sizeof(T));
  return copy.data();
}

// Removes the files of a conversion that did not finish (and out_dir itself if the run created it).
struct cleanup {
  std::vector<fs::path> paths;
  fs::path created_dir;
  bool armed = true;
  ~cleanup() {
    if (!armed) return;
    std::error_code ignored;
    for (const fs::path& p : paths) fs::remove(p, ignored);
    if (!created_dir.empty() && fs::is_empty(created_dir, ignored)) fs::remove(created_dir, ignored);
  }
};

class conversion {
 public:
  conversion(const convert_options& options, std::uint64_t total) : options_(options), total_(total) {}

  void begin_file(std::string name) { file_ = std::move(name); }
  void check_cancelled() const {
    if (options_.cancel != nullptr && options_.cancel->load()) throw convert_error("interrupted; nothing was written");
  }
  void wrote(writer& w, const void* data, std::size_t bytes) {
    w.write(data, bytes);
    done_ += bytes;
    if (options_.on_progress) options_.on_progress({done_, total_, file_});
    check_cancelled();
  }

  void copy(writer& w, const tensor& t) {
    constexpr std::size_t piece = std::size_t(32) << 20;
    for (std::size_t offset = 0; offset < t.bytes; offset += piece) {
      wrote(w, t.data + offset, std::min(piece, t.bytes - offset));
    }
  }

  // Dequantizes a layer in pieces of rows (about 32 MiB of output each), each piece on all threads.
  void dequantize(writer& w, const planned_tensor& p) {
    if (lowbit::is_fp_mode(p.mode)) {
      with_float_type(p.out.dtype, [&](auto* out_tag) { dequantize_fp<std::remove_pointer_t<decltype(out_tag)>>(w, p); });
      return;
    }
    with_float_type(p.scales->dtype, [&](auto* scale_tag) {
      with_float_type(p.out.dtype, [&](auto* out_tag) {
        using S = std::remove_pointer_t<decltype(scale_tag)>;
        using O = std::remove_pointer_t<decltype(out_tag)>;
        dequantize_as<S, O>(w, p);
      });
    });
  }

 private:
  template <class S, class O>
  void dequantize_as(writer& w, const planned_tensor& p) {
    const std::size_t cols = static_cast<std::size_t>(p.cols), rows = static_cast<std::size_t>(p.rows);
    if (rows == 0 || cols == 0) return;
    const std::size_t words = lowbit::format::words_per_row(cols, p.params.bits);
    const std::size_t groups = cols / static_cast<std::size_t>(p.params.group_size);
    const std::size_t rows_per_piece = std::max<std::size_t>(1, (std::size_t(32) << 20) / (cols * sizeof(O)));
    std::vector<O> out;
    std::vector<std::uint32_t> wq_copy;
    std::vector<S> scales_copy, biases_copy;
    for (std::size_t r0 = 0; r0 < rows; r0 += rows_per_piece) {
      const std::size_t n = std::min(rows_per_piece, rows - r0);
      out.resize(n * cols);
      const auto* wq = aligned(p.source->data + r0 * words * 4, n * words, wq_copy);
      const auto* scales = aligned(p.scales->data + r0 * groups * sizeof(S), n * groups, scales_copy);
      const auto* biases = aligned(p.biases->data + r0 * groups * sizeof(S), n * groups, biases_copy);
      lowbit::options opt;  // lowbit splits the piece across its own threads (parallel.hpp)
      opt.bits = p.params.bits;
      opt.group_size = p.params.group_size;
      opt.threads = options_.threads;
      lowbit::dequantize(wq, scales, biases, out.data(), n, cols, opt);
      wrote(w, out.data(), out.size() * sizeof(O));
    }
  }

  // A floating-point mode layer, in pieces of rows like dequantize_as, each split across lowbit's threads.
  template <class O>
  void dequantize_fp(writer& w, const planned_tensor& p) {
    const std::size_t cols = static_cast<std::size_t>(p.cols), rows = static_cast<std::size_t>(p.rows);
    if (rows == 0 || cols == 0) return;
    const std::size_t words = lowbit::format::words_per_row(cols, p.params.bits);
    const std::size_t groups = cols / static_cast<std::size_t>(p.params.group_size);
    const std::size_t rows_per_piece = std::max<std::size_t>(1, (std::size_t(32) << 20) / (cols * sizeof(O)));
    float global = 0;
    if (p.global_scale != nullptr) std::memcpy(&global, p.global_scale->data, sizeof global);
    const float* global_scale = p.global_scale != nullptr ? &global : nullptr;
    std::vector<O> out;
    std::vector<std::uint32_t> wq_copy;
    for (std::size_t r0 = 0; r0 < rows; r0 += rows_per_piece) {
      const std::size_t n = std::min(rows_per_piece, rows - r0);
      out.resize(n * cols);
      const auto* wq = aligned(p.source->data + r0 * words * 4, n * words, wq_copy);
      const auto* scales = p.scales->data + r0 * groups;
      lowbit::options opt;  // bits and group size: the mode's
      opt.threads = options_.threads;
      lowbit::dequantize(p.mode, wq, scales, out.data(), n, cols, opt, global_scale);
      wrote(w, out.data(), out.size() * sizeof(O));
    }
  }

  const convert_options& options_;
  std::uint64_t total_ = 0, done_ = 0;
  std::string file_;
};

// Writes j as a small text file, synced to disk like the shards.
inline void write_json(const fs::path& path, const nlohmann::ordered_json& j) {
  const std::string text = j.dump(4) + "\n";
  std::FILE* out = std::fopen(path.string().c_str(), "wb");
  bool ok = out != nullptr && std::fwrite(text.data(), 1, text.size(), out) == text.size() && std::fflush(out) == 0;
#ifdef LOWBIT_TOOLS_HAVE_MMAP
  ok = ok && fsync(fileno(out)) == 0;
#endif
  if (out != nullptr) ok = std::fclose(out) == 0 && ok;
  if (!ok) throw io_error(path.string() + ": cannot write: " + std::strerror(errno));
}

}  // namespace convert_detail

/// Converts options.model_dir into options.out_dir (see the top of this file). Throws convert_error for a
/// model it refuses or a cancelled run, io_error when the output cannot be written; out_dir then holds no
/// new file.
inline convert_summary convert_model(const convert_options& options) {
  namespace fs = std::filesystem;
  using namespace convert_detail;
  convert_summary summary;
  const std::string out_dtype = options.dtype.empty() ? "" : dtype_of_name(options.dtype);
  if (!options.dtype.empty() && out_dtype.empty()) {
    throw convert_error("--dtype " + options.dtype + " is not supported; supported: float16, bfloat16, float32");
  }
  summary.dtype = options.dtype.empty() ? "the scales' dtype" : options.dtype;

  const model m = open_model(options.model_dir);
  const std::vector<std::vector<planned_tensor>> shards = plan(m, out_dtype, summary.warnings);

  const fs::path out_dir = options.out_dir;
  std::error_code ec;
  if (fs::exists(out_dir) && fs::equivalent(out_dir, m.dir, ec)) {
    fail(options.out_dir, "is the model directory; write the dense model somewhere else");
  }
  cleanup undo;
  if (!fs::exists(out_dir)) {
    if (!fs::create_directories(out_dir, ec)) fail(options.out_dir, "cannot create the directory: " + ec.message());
    undo.created_dir = out_dir;
  } else if (!fs::is_directory(out_dir)) {
    fail(options.out_dir, "is not a directory");
  }

  // Every file goes to <name>.tmp first; `finished` maps each to its final name.
  std::vector<std::pair<fs::path, fs::path>> finished;
  auto temporary = [&](const std::string& name) {
    const fs::path final_path = out_dir / name, tmp = out_dir / (name + ".tmp");
    undo.paths.push_back(tmp);
    finished.emplace_back(tmp, final_path);
    return tmp;
  };

  std::uint64_t total = 0;
  for (const auto& shard : shards) {
    for (const planned_tensor& t : shard) total += t.out.bytes();
  }
  conversion run(options, total);
  run.check_cancelled();
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  for (std::size_t s = 0; s < shards.size(); ++s) {
    std::vector<tensor_info> infos;
    for (const planned_tensor& t : shards[s]) infos.push_back(t.out);
    run.begin_file(m.shard_names[s]);
    writer w(temporary(m.shard_names[s]).string(), infos, m.shards[s].metadata());
    for (const planned_tensor& t : shards[s]) {
      if (t.scales != nullptr) {
        run.dequantize(w, t);
        ++summary.dequantized;
      } else {
        run.copy(w, *t.source);
      }
      weight_map[t.out.name] = m.shard_names[s];
      ++summary.tensors;
    }
    w.finish();
    summary.bytes_written += w.data_bytes();
    ++summary.shards;
  }

  if (m.indexed) {
    nlohmann::ordered_json index = m.index;
    if (!index.contains("metadata") || !index["metadata"].is_object()) index["metadata"] = nlohmann::ordered_json::object();
    index["metadata"]["total_size"] = total;
    index["weight_map"] = weight_map;
    write_json(temporary("model.safetensors.index.json"), index);
  }
  for (const auto& entry : fs::directory_iterator(m.dir)) {  // tokenizer and the like, unchanged
    const std::string name = entry.path().filename().string();
    const bool model_file = name == "config.json" || name == "model.safetensors.index.json" ||
                            std::find(m.shard_names.begin(), m.shard_names.end(), name) != m.shard_names.end();
    if (model_file || !entry.is_regular_file()) continue;
    if (!fs::copy_file(entry.path(), temporary(name), fs::copy_options::overwrite_existing, ec)) {
      throw io_error((out_dir / name).string() + ".tmp: cannot copy: " + ec.message());
    }
    ++summary.copied_files;
  }
  nlohmann::ordered_json config = m.config;  // written last: it is what makes the directory a model
  config.erase("quantization");
  config.erase("quantization_config");
  write_json(temporary("config.json"), config);

  run.check_cancelled();
  for (const auto& [tmp, final_path] : finished) {
    fs::rename(tmp, final_path, ec);
    if (ec) throw io_error(final_path.string() + ": cannot rename from " + tmp.filename().string() + ": " + ec.message());
    undo.paths.push_back(final_path);
  }
  undo.armed = false;
  return summary;
}

}  // namespace lowbit_tools
