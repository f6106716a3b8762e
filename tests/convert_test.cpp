// lowbit-convert: a synthetic MLX-style model (two shards, per-layer overrides of bits and group size, an
// unquantized layer, float16 and bfloat16 layers, a 3-D weight, scales and biases in different shards) made
// with lowbit::quantize and converted, compared bit for bit with lowbit::dequantize and within the
// quantization error with the original weights; MLX's golden files converted and compared with MLX's own
// dequantize; and every malformed input refused with a message naming file and tensor, exit status 1 and
// no output file.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "convert.hpp"
#include "golden.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using lowbit_tools::tensor_bytes;
using lowbit_tools::tensor_info;

// ---- helpers ------------------------------------------------------------------------------------------------

// A fresh directory, removed with everything in it at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "lowbit-convert-test-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

template <class T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<std::uint8_t> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::uint64_t product(const std::vector<std::uint64_t>& shape) {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// ---- the synthetic model ----------------------------------------------------------------------------------

struct layer {
  std::string prefix, dtype;  // dtype of the dense weight, and so of scales and biases: "F16" or "BF16"
  std::vector<std::uint64_t> shape;
  int bits = 0, group_size = 0;  // 0: not quantized
  int shard = 0, biases_shard = 0;
};

const std::vector<layer> layers = {
    {"model.embed_tokens", "F16", {64, 256}, 4, 64, 0, 0},                       // the defaults
    {"model.layers.0.self_attn.q_proj", "BF16", {96, 128}, 8, 32, 0, 1},         // biases in the other shard
    {"model.layers.0.self_attn.o_proj", "BF16", {128, 96}, 5, 32, 1, 1},
    {"model.layers.0.mlp.down_proj", "BF16", {80, 384}, 3, 128, 1, 1},
    {"model.layers.0.mlp.switch_mlp.up_proj", "F16", {2, 48, 192}, 6, 64, 1, 1},  // 3-D (experts)
    {"lm_head", "F16", {64, 256}, 0, 0, 1, 1},                                   // "lm_head": false
};
const char* const shard_names[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};

// The model as files: the tests change it before writing it, to make it malformed.
struct model_files {
  json config;
  std::vector<std::vector<tensor_bytes>> shards{2};
  std::map<std::string, std::vector<float>> dense;  // the original weights, by weight name
  bool indexed = true;

  tensor_bytes* find(const std::string& name) {
    for (auto& shard : shards) {
      for (auto& t : shard) {
        if (t.info.name == name) return &t;
      }
    }
    return nullptr;
  }
  void remove(const std::string& name) {
    for (auto& shard : shards) {
      shard.erase(std::remove_if(shard.begin(), shard.end(), [&](const tensor_bytes& t) { return t.info.name == name; }),
                  shard.end());
    }
  }
  void write(const fs::path& dir) const {
    fs::create_directories(dir);
    json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < shards.size(); ++s) {
      lowbit_tools::write_file((dir / shard_names[s]).string(), shards[s], {{"format", "mlx"}});
      for (const auto& t : shards[s]) {
        index["weight_map"][t.info.name] = shard_names[s];
        total += t.data.size();
      }
    }
    index["metadata"]["total_size"] = total;
    if (indexed) write_text(dir / "model.safetensors.index.json", index.dump(4));
    write_text(dir / "config.json", config.dump(4));
    write_text(dir / "tokenizer.json", "{\"version\": \"1.0\"}\n");
  }
};

template <class T>
void add_layer(model_files& m, const layer& l, std::mt19937_64& engine) {
  const std::uint64_t cols = l.shape.back(), rows = product(l.shape) / cols;
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<T> w(rows * cols);
  std::vector<float> dense;
  for (auto& v : w) {
    v = T(normal(engine));
    dense.push_back(static_cast<float>(v));
  }
  m.dense[l.prefix + ".weight"] = dense;
  if (l.bits == 0) {
    m.shards[l.shard].push_back({{l.prefix + ".weight", l.dtype, l.shape}, bytes_of(w)});
    return;
  }
  std::vector<std::uint32_t> wq(rows * cols / 32 * l.bits);
  std::vector<T> scales(rows * cols / l.group_size), biases(scales.size());
  lowbit::quantize(w.data(), wq.data(), scales.data(), biases.data(), rows, cols, l.bits, l.group_size);
  auto packed_shape = l.shape, group_shape = l.shape;
  packed_shape.back() = cols / 32 * l.bits;
  group_shape.back() = cols / l.group_size;
  m.shards[l.shard].push_back({{l.prefix + ".weight", "U32", packed_shape}, bytes_of(wq)});
  m.shards[l.shard].push_back({{l.prefix + ".scales", l.dtype, group_shape}, bytes_of(scales)});
  m.shards[l.biases_shard].push_back({{l.prefix + ".biases", l.dtype, group_shape}, bytes_of(biases)});
}

model_files synthetic_model() {
  model_files m;
  std::mt19937_64 engine(6);
  for (const layer& l : layers) {
    if (l.dtype == "F16") {
      add_layer<lowbit::half>(m, l, engine);
    } else {
      add_layer<lowbit::bfloat16>(m, l, engine);
    }
  }
  std::vector<lowbit::bfloat16> bias(96, lowbit::bfloat16(0.25f));
  m.shards[0].push_back({{"model.layers.0.self_attn.q_proj.bias", "BF16", {96}}, bytes_of(bias)});
  std::vector<float> norm(256, 1.0f);
  m.shards[1].push_back({{"model.norm.weight", "F32", {256}}, bytes_of(norm)});

  json quantization = {{"group_size", 64}, {"bits", 4}, {"mode", "affine"}};
  for (const layer& l : layers) {
    if (l.bits == 0) {
      quantization[l.prefix] = false;
    } else if (l.bits != 4 || l.group_size != 64) {
      quantization[l.prefix] = {{"group_size", l.group_size}, {"bits", l.bits}};
    }
  }
  m.config = {{"model_type", "lowbit-test"}, {"hidden_size", 256}, {"quantization", quantization},
              {"quantization_config", quantization}, {"vocab_size", 64}};
  return m;
}

// ---- running the converter --------------------------------------------------------------------------------

lowbit_tools::convert_summary convert(const fs::path& model, const fs::path& out, const std::string& dtype = "",
                                      unsigned threads = 2) {
  lowbit_tools::convert_options options;
  options.model_dir = model.string();
  options.out_dir = out.string();
  options.dtype = dtype;
  options.threads = threads;
  return lowbit_tools::convert_model(options);
}

struct cli_result {
  int status = -1;
  std::string err;
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Runs the lowbit-convert program (under the cross-compiling emulator, if any) with stderr captured.
cli_result run_cli(const std::vector<std::string>& args, const fs::path& scratch) {
  std::string command = LOWBIT_CONVERT_EMULATOR;
  command += (command.empty() ? "" : " ") + quoted(LOWBIT_CONVERT_EXE);
  for (const auto& a : args) command += " " + quoted(a);
  const fs::path err = scratch / "stderr.txt";
  command += " </dev/null >/dev/null 2>" + quoted(err.string());
  const int status = std::system(command.c_str());
  cli_result r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_text(err);
  fs::remove(err);
  return r;
}

// ---- conversion -------------------------------------------------------------------------------------------------

template <class O, class S>
std::vector<O> reference_dequantize(const lowbit_tools::tensor& wq, const lowbit_tools::tensor& scales,
                                    const lowbit_tools::tensor& biases, std::uint64_t rows, std::uint64_t cols,
                                    int bits, int group_size) {
  std::vector<O> out(rows * cols);
  lowbit::dequantize(wq.copy_as<std::uint32_t>().data(), scales.copy_as<S>().data(), biases.copy_as<S>().data(),
                     out.data(), rows, cols, bits, group_size);
  return out;
}

// Checks a converted model against the synthetic one: structure, and every tensor.
void check_converted(const model_files& input, const fs::path& model, const fs::path& out, const std::string& dtype) {
  EXPECT_EQ(files_in(out), (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                                     "model-00002-of-00002.safetensors",
                                                     "model.safetensors.index.json", "tokenizer.json"}));
  const json config = json::parse(read_text(out / "config.json"));
  EXPECT_FALSE(config.contains("quantization"));
  EXPECT_FALSE(config.contains("quantization_config"));
  EXPECT_EQ(config["model_type"], "lowbit-test");
  EXPECT_EQ(config["vocab_size"], 64);
  EXPECT_EQ(read_text(out / "tokenizer.json"), read_text(model / "tokenizer.json"));

  const json index = json::parse(read_text(out / "model.safetensors.index.json"));
  std::uint64_t total = 0;
  std::map<std::string, lowbit_tools::file> shards;
  for (const char* name : shard_names) {
    shards.emplace(name, lowbit_tools::file::open((out / name).string()));
    EXPECT_EQ(shards.at(name).metadata().at("format"), "mlx");
    for (const auto& t : shards.at(name).tensors()) {
      total += t.bytes;
      EXPECT_EQ(index["weight_map"][t.name], name) << t.name;
    }
  }
  EXPECT_EQ(index["metadata"]["total_size"], total);
  EXPECT_EQ(index["weight_map"].size(), 8u);  // 6 weights, a bias and a norm: no scales, no biases

  const auto in = lowbit_tools::file::open((model / shard_names[0]).string());
  const auto in2 = lowbit_tools::file::open((model / shard_names[1]).string());
  auto input_tensor = [&](const std::string& name) -> const lowbit_tools::tensor& {
    return in.contains(name) ? in.at(name) : in2.at(name);
  };
  for (const layer& l : layers) {
    const std::string name = l.prefix + ".weight";
    const auto& got = shards.at(shard_names[l.shard]).at(name);
    EXPECT_EQ(got.shape, l.shape) << name;
    if (l.bits == 0) {  // copied unchanged
      EXPECT_EQ(got.dtype, l.dtype);
      EXPECT_EQ(got.copy_as<std::uint8_t>(), input_tensor(name).copy_as<std::uint8_t>()) << name;
      continue;
    }
    const std::string want_dtype = dtype.empty() ? l.dtype : dtype;
    ASSERT_EQ(got.dtype, want_dtype) << name;
    const std::uint64_t cols = l.shape.back(), rows = product(l.shape) / cols;
    const auto& wq = input_tensor(name);
    const auto& scales = input_tensor(l.prefix + ".scales");
    const auto& biases = input_tensor(l.prefix + ".biases");
    const std::string where = name + " (bits " + std::to_string(l.bits) + ", group_size " +
                              std::to_string(l.group_size) + ", " + l.dtype + " -> " + want_dtype + ")";
    // Bit for bit lowbit::dequantize, whose own tests tie it to MLX.
    lowbit_test::with_dtype(l.dtype, [&](auto s_tag) {
      using S = typename decltype(s_tag)::type;
      lowbit_test::with_dtype(want_dtype, [&](auto o_tag) {
        using O = typename decltype(o_tag)::type;
        const auto want = reference_dequantize<O, S>(wq, scales, biases, rows, cols, l.bits, l.group_size);
        EXPECT_TRUE(lowbit_test::bit_equal(got.copy_as<O>(), want, where));
        // Within the quantization error of the original. MLX's quantize keeps the group's edge of larger
        // magnitude exact and re-derives the scale from its rounded code, which can leave the other edge up to
        // one step short: 1.5 steps, plus the rounding of scale, bias and result in the scales' type.
        const auto& dense = input.dense.at(name);
        const auto s = scales.copy_as<S>();
        const auto b = biases.copy_as<S>();
        const auto out = got.copy_as<O>();
        const float type_eps = l.dtype == "BF16" ? 1.0f / 128 : 1.0f / 512;
        const float max_code = static_cast<float>((1 << l.bits) - 1);
        std::size_t worst = 0;
        float worst_excess = -1e30f;
        for (std::size_t i = 0; i < dense.size(); ++i) {
          const float step = std::fabs(static_cast<float>(s[i / l.group_size]));
          const float magnitude = std::fabs(static_cast<float>(b[i / l.group_size])) + max_code * step;
          const float tolerance = 1.5f * step + type_eps * magnitude + 1e-6f;
          const float excess = std::fabs(static_cast<float>(out[i]) - dense[i]) - tolerance;
          if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
          }
        }
        EXPECT_LE(worst_excess, 0.0f) << where << ": element " << worst << " is " << static_cast<float>(out[worst])
                                      << ", the original " << dense[worst];
      });
    });
  }
}

TEST(Convert, MultiShardModelWithPerLayerOverrides) {
  temp_dir tmp;
  const model_files m = synthetic_model();
  m.write(tmp.path / "model");
  const auto summary = convert(tmp.path / "model", tmp.path / "out");
  EXPECT_EQ(summary.shards, 2u);
  EXPECT_EQ(summary.tensors, 8u);
  EXPECT_EQ(summary.dequantized, 5u);
  EXPECT_EQ(summary.copied_files, 1u);
  EXPECT_TRUE(summary.warnings.empty());
  check_converted(m, tmp.path / "model", tmp.path / "out", "");
}

TEST(Convert, EveryOutputDtype) {
  temp_dir tmp;
  const model_files m = synthetic_model();
  m.write(tmp.path / "model");
  for (const auto& [name, dtype] : std::map<std::string, std::string>{{"float32", "F32"}, {"float16", "F16"},
                                                                       {"bfloat16", "BF16"}}) {
    SCOPED_TRACE(name);
    convert(tmp.path / "model", tmp.path / name, name);
    check_converted(m, tmp.path / "model", tmp.path / name, dtype);
  }
}

TEST(Convert, ThreadsDoNotChangeABit) {
  temp_dir tmp;
  synthetic_model().write(tmp.path / "model");
  convert(tmp.path / "model", tmp.path / "one", "", 1);
  convert(tmp.path / "model", tmp.path / "seven", "", 7);
  for (const char* name : shard_names) {
    EXPECT_EQ(read_text(tmp.path / "one" / name), read_text(tmp.path / "seven" / name)) << name;
  }
}

TEST(Convert, SingleFileModelAndOverrideWarnings) {
  temp_dir tmp;
  model_files m = synthetic_model();
  for (auto& t : m.shards[1]) m.shards[0].push_back(t);
  m.shards.resize(1);
  m.indexed = false;
  m.config["quantization"]["layers.0.mlp.down_proj"] = {{"bits", 3}, {"group_size", 128}};  // no "model." prefix
  m.write(tmp.path / "model");
  fs::rename(tmp.path / "model" / shard_names[0], tmp.path / "model" / "model.safetensors");
  const auto summary = convert(tmp.path / "model", tmp.path / "out");
  EXPECT_EQ(files_in(tmp.path / "out"), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));
  EXPECT_EQ(summary.dequantized, 5u);
  ASSERT_EQ(summary.warnings.size(), 1u);
  EXPECT_NE(summary.warnings[0].find("entry 'layers.0.mlp.down_proj' matches no tensor"), std::string::npos)
      << summary.warnings[0];
}

// MLX's own quantized tensors (tests/data/mlx-golden) as the layers of one model, each with its bits and
// group size as a per-layer override: the converter writes exactly MLX's dequantize.
TEST(Convert, MlxGoldenFilesConvertToMlxDequantize) {
  temp_dir tmp;
  const fs::path model = tmp.path / "model";
  fs::create_directories(model);
  std::vector<tensor_bytes> tensors;
  json quantization = {{"group_size", 64}, {"bits", 4}};
  const auto cases = lowbit_test::golden_cases("affine");
  for (const auto& c : cases) {
    const auto f = lowbit_tools::file::open(c.path());
    const std::string prefix = "mlx." + lowbit_test::golden_test_name(c);
    for (const char* part : {"wq", "scales", "biases"}) {
      const auto& t = f.at(part);
      tensors.push_back({{prefix + (std::string(part) == "wq" ? ".weight" : "." + std::string(part)), t.dtype, t.shape},
                         t.copy_as<std::uint8_t>()});
    }
    quantization[prefix] = {{"bits", c.bits}, {"group_size", c.group_size}};
  }
  lowbit_tools::write_file((model / "model.safetensors").string(), tensors);
  write_text(model / "config.json", json({{"quantization", quantization}}).dump());
  convert(model, tmp.path / "out");
  convert(model, tmp.path / "out_f32", "float32");
  const auto out = lowbit_tools::file::open((tmp.path / "out" / "model.safetensors").string());
  const auto out_f32 = lowbit_tools::file::open((tmp.path / "out_f32" / "model.safetensors").string());
  std::size_t compared = 0;
  for (const auto& c : cases) {
    const auto f = lowbit_tools::file::open(c.path());
    const std::string name = "mlx." + lowbit_test::golden_test_name(c) + ".weight";
    EXPECT_EQ(out.at(name).shape, f.at("wd").shape) << name;
    EXPECT_EQ(out.at(name).dtype, f.at("wd").dtype) << name;
    EXPECT_EQ(out.at(name).copy_as<std::uint8_t>(), f.at("wd").copy_as<std::uint8_t>()) << name << " vs MLX wd";
    if (f.contains("wd_f32")) {
      EXPECT_EQ(out_f32.at(name).copy_as<std::uint8_t>(), f.at("wd_f32").copy_as<std::uint8_t>())
          << name << " vs MLX wd_f32";
    }
    ++compared;
  }
  EXPECT_EQ(compared, 55u);
}

// The floating-point mode golden files (mxfp4, nvfp4 with and without a global scale, mxfp8) as the layers of
// one model, each with its mode as a per-layer override: the converter writes exactly MLX's dequantize
// (bfloat16, or float32 with a global scale, by default; float32 on request).
TEST(Convert, MlxFloatingPointModeFilesConvertToMlxDequantize) {
  temp_dir tmp;
  const fs::path model = tmp.path / "model";
  fs::create_directories(model);
  std::vector<tensor_bytes> tensors;
  json quantization = {{"group_size", 64}, {"bits", 4}};
  std::vector<lowbit_test::golden_case> cases;
  for (const char* mode : {"mxfp4", "nvfp4", "mxfp8"}) {
    for (const auto& c : lowbit_test::golden_cases(mode)) cases.push_back(c);
  }
  for (const auto& c : cases) {
    const auto f = lowbit_tools::file::open(c.path());
    const std::string prefix = "mlx." + lowbit_test::golden_test_name(c);
    for (const char* part : {"wq", "scales", "global_scale"}) {
      if (!f.contains(part)) continue;
      const auto& t = f.at(part);
      tensors.push_back({{prefix + (std::string(part) == "wq" ? ".weight" : "." + std::string(part)), t.dtype, t.shape},
                         t.copy_as<std::uint8_t>()});
    }
    quantization[prefix] = {{"mode", c.mode}, {"bits", c.bits}, {"group_size", c.group_size}};
  }
  lowbit_tools::write_file((model / "model.safetensors").string(), tensors);
  write_text(model / "config.json", json({{"quantization", quantization}}).dump());
  convert(model, tmp.path / "out");
  convert(model, tmp.path / "out_f32", "float32");
  const auto out = lowbit_tools::file::open((tmp.path / "out" / "model.safetensors").string());
  const auto out_f32 = lowbit_tools::file::open((tmp.path / "out_f32" / "model.safetensors").string());
  EXPECT_FALSE(out.contains("mlx." + lowbit_test::golden_test_name(cases.front()) + ".scales"));
  std::size_t compared = 0;
  for (const auto& c : cases) {
    const auto f = lowbit_tools::file::open(c.path());
    const std::string name = "mlx." + lowbit_test::golden_test_name(c) + ".weight";
    EXPECT_EQ(out.at(name).dtype, f.at("wd").dtype) << name;
    EXPECT_EQ(out.at(name).copy_as<std::uint8_t>(), f.at("wd").copy_as<std::uint8_t>()) << name << " vs MLX wd";
    EXPECT_EQ(out_f32.at(name).copy_as<std::uint8_t>(), f.at("wd_f32").copy_as<std::uint8_t>())
        << name << " vs MLX wd_f32";
    ++compared;
  }
  EXPECT_EQ(compared, 12u);
}

TEST(Convert, FloatingPointModeLayersAreChecked) {
  temp_dir tmp;
  const auto f = lowbit_tools::file::open(lowbit_test::golden_cases("mxfp4").front().path());
  auto write_model = [&](const fs::path& dir, const json& layer, bool with_biases) {
    fs::create_directories(dir);
    std::vector<tensor_bytes> tensors = {
        {{"l.weight", "U32", f.at("wq").shape}, f.at("wq").copy_as<std::uint8_t>()},
        {{"l.scales", "U8", f.at("scales").shape}, f.at("scales").copy_as<std::uint8_t>()}};
    if (with_biases) tensors.push_back({{"l.biases", "U8", f.at("scales").shape}, f.at("scales").copy_as<std::uint8_t>()});
    lowbit_tools::write_file((dir / "model.safetensors").string(), tensors);
    write_text(dir / "config.json", json({{"quantization", layer}}).dump());
  };
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"mode", "mxfp4"}, {"bits", 4}, {"group_size", 64}}, "mode mxfp4 takes bits 4 and group_size 32"},
      {{{"mode", "fp4"}}, "mode fp4 (from config.json) is not supported"},
  };
  int i = 0;
  for (const auto& [config, message] : bad) {
    const fs::path dir = tmp.path / ("bad" + std::to_string(i++));
    write_model(dir, config, false);
    try {
      convert(dir, tmp.path / ("out" + std::to_string(i)));
      ADD_FAILURE() << "accepted " << config.dump();
    } catch (const lowbit_tools::convert_error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  write_model(tmp.path / "biases", {{"mode", "mxfp4"}, {"bits", 4}, {"group_size", 32}}, true);
  EXPECT_THROW(convert(tmp.path / "biases", tmp.path / "out_b"), lowbit_tools::convert_error);
}

TEST(ConvertCli, ConvertsAndPrintsOneSummaryLineWhenNotATerminal) {
  temp_dir tmp;
  synthetic_model().write(tmp.path / "model");
  const auto r = run_cli({(tmp.path / "model").string(), (tmp.path / "out").string(), "--dtype", "float32",
                          "--threads", "3"},
                         tmp.path);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 safetensors files, 8 tensors (5 dequantized to float32), 1 other file copied"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("3 threads"), std::string::npos) << r.err;
  EXPECT_EQ(files_in(tmp.path / "out").size(), 5u);
}

TEST(ConvertCli, BadCommandLinesExitWith2) {
  temp_dir tmp;
  EXPECT_EQ(run_cli({"only-one"}, tmp.path).status, 2);
  EXPECT_EQ(run_cli({"a", "b", "--dtype", "float64"}, tmp.path).status, 2);
  EXPECT_EQ(run_cli({"a", "b", "--threads", "0"}, tmp.path).status, 2);
  EXPECT_EQ(run_cli({"a", "b", "--bits", "4"}, tmp.path).status, 2);
  EXPECT_EQ(run_cli({"--help"}, tmp.path).status, 0);
}

// ---- refusals: every malformed input ----------------------------------------------------------------------------

// What stderr must say: "lowbit-convert: " and these pieces, in this order.
struct message_pieces {
  std::vector<std::string> parts;
  message_pieces(const char* whole) : parts{whole} {}
  message_pieces(std::initializer_list<std::string> pieces) : parts(pieces) {}
  bool found_in(const std::string& text) const {
    std::size_t at = text.find("lowbit-convert: " + parts[0]);
    for (std::size_t i = 1; i < parts.size() && at != std::string::npos; ++i) at = text.find(parts[i], at);
    return at != std::string::npos;
  }
};

struct bad_input {
  std::string name;
  std::function<void(model_files&)> change_model;    // before it is written
  std::function<void(const fs::path&)> change_files;  // after
  message_pieces message;
};

void PrintTo(const bad_input& bad, std::ostream* os) { *os << bad.name; }

// Rewrites a safetensors file's header with `edit` (the data block is kept).
void edit_header(const fs::path& path, const std::function<void(json&)>& edit) {
  const std::string bytes = read_text(path);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  json header = json::parse(bytes.substr(8, n));
  edit(header);
  const std::string text = header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  write_text(path, out + text + bytes.substr(8 + n));
}

const fs::path shard1 = shard_names[0], shard2 = shard_names[1];

std::vector<bad_input> bad_inputs() {
  auto file = [](const fs::path& name, std::function<void(const fs::path&)> f) {
    return [name, f](const fs::path& dir) { f(dir / name); };
  };
  return {
      {"truncated_file", nullptr,
       file(shard2, [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) - 100); }),
       {"model-00002-of-00002.safetensors: tensor 'model.norm.weight': data_offsets [", "] are outside the data block",
        "(is the file truncated?)"}},
      {"shorter_than_header_length", nullptr, file(shard1, [](const fs::path& p) { fs::resize_file(p, 5); }),
       "model-00001-of-00002.safetensors: truncated: 5 bytes, shorter than the 8-byte header length"},
      {"header_length_past_eof", nullptr,
       file(shard1,
            [](const fs::path& p) {
              std::string b = read_text(p);
              b[5] = 1;  // + 2^40
              write_text(p, b);
            }),
       {"model-00001-of-00002.safetensors: header length 10995116", "runs past the end of the file"}},
      {"invalid_json_header", nullptr,
       file(shard1,
            [](const fs::path& p) {
              std::string b = read_text(p);
              b[8] = '[';
              write_text(p, b);
            }),
       "model-00001-of-00002.safetensors: header is not valid JSON"},
      {"data_offsets_out_of_range", nullptr,
       file(shard2, [](const fs::path& p) {
         edit_header(p, [](json& h) {
           auto& offsets = h["model.norm.weight"]["data_offsets"];
           offsets[1] = offsets[1].get<std::uint64_t>() + 4;  // the last tensor, 4 bytes too long
         });
       }),
       {"model-00002-of-00002.safetensors: tensor 'model.norm.weight': data_offsets [", "] are outside"}},
      {"data_offsets_overlapping", nullptr,
       file(shard2, [](const fs::path& p) {
         edit_header(p, [](json& h) { h["model.norm.weight"]["data_offsets"] = {0, 1024}; });
       }),
       {"model-00002-of-00002.safetensors: tensor 'model.norm.weight': data overlaps tensor "
        "'model.layers.0.self_attn.q_proj.biases'"}},
      {"data_offsets_disagree_with_shape",
       nullptr,
       file(shard2, [](const fs::path& p) {
         edit_header(p, [](json& h) { h["model.norm.weight"]["shape"] = {255}; });
       }),
       "model-00002-of-00002.safetensors: tensor 'model.norm.weight': data_offsets span 1024 bytes but dtype F32 x shape needs 1020"},
      {"invalid_config_json", nullptr,
       [](const fs::path& dir) { write_text(dir / "config.json", "{\"quantization\": {\"bits\": 4,"); },
       "config.json: is not valid JSON"},
      {"invalid_index_json", nullptr,
       [](const fs::path& dir) { write_text(dir / "model.safetensors.index.json", "{\"weight_map\": "); },
       "model.safetensors.index.json: is not valid JSON"},
      {"missing_shard", nullptr, [](const fs::path& dir) { fs::remove(dir / shard2); },
       "model-00002-of-00002.safetensors: is missing (listed in model.safetensors.index.json)"},
      {"weight_dtype_not_u32",
       [](model_files& m) { m.find("model.layers.0.self_attn.q_proj.weight")->info.dtype = "I32"; }, nullptr,
       "model-00001-of-00002.safetensors: tensor 'model.layers.0.self_attn.q_proj.weight': dtype I32, but a "
       "quantized weight (it has scales) is U32"},
      {"shape_disagrees_with_bits",
       [](model_files& m) { m.config["quantization"]["model.layers.0.mlp.down_proj"]["bits"] = 4; }, nullptr,
       "model-00002-of-00002.safetensors: tensor 'model.layers.0.mlp.down_proj.weight': shape [80, 36] disagrees "
       "with bits 4 and group_size 128: 3 groups per row (scales [80, 3]) make 384 columns, packed in 48 words per "
       "row, not 36"},
      {"shape_disagrees_with_group_size", [](model_files& m) { m.config["quantization"]["group_size"] = 32; },
       nullptr,
       "model-00001-of-00002.safetensors: tensor 'model.embed_tokens.weight': shape [64, 32] disagrees with bits 4 "
       "and group_size 32"},
      {"scales_dtype_not_float",
       [](model_files& m) {
         auto* s = m.find("model.embed_tokens.scales");
         s->info.dtype = "I16";
       },
       nullptr, "model-00001-of-00002.safetensors: tensor 'model.embed_tokens.scales': dtype I16; scales are F16, "
                "BF16 or F32"},
      {"biases_dtype_differs",
       [](model_files& m) { m.find("model.layers.0.self_attn.q_proj.biases")->info.dtype = "F16"; }, nullptr,
       "model-00002-of-00002.safetensors: tensor 'model.layers.0.self_attn.q_proj.biases': dtype F16 differs from "
       "the scales' BF16"},
      {"missing_scales", [](model_files& m) { m.remove("model.embed_tokens.scales"); }, nullptr,
       "model-00001-of-00002.safetensors: tensor 'model.embed_tokens.weight': dtype U32 (packed) but missing scales "
       "'model.embed_tokens.scales'"},
      {"missing_biases", [](model_files& m) { m.remove("model.layers.0.self_attn.o_proj.biases"); }, nullptr,
       "model-00002-of-00002.safetensors: tensor 'model.layers.0.self_attn.o_proj.weight': missing biases "
       "'model.layers.0.self_attn.o_proj.biases' (mode affine)"},
      {"unsupported_mode", [](model_files& m) { m.config["quantization"]["mode"] = "fp4"; }, nullptr,
       "model-00001-of-00002.safetensors: tensor 'model.embed_tokens.weight': mode fp4 (from config.json) is not "
       "supported; supported: affine, mxfp4, nvfp4, mxfp8"},
      {"mode_disagrees_with_layer", [](model_files& m) { m.config["quantization"]["mode"] = "mxfp4"; }, nullptr,
       "model-00001-of-00002.safetensors: tensor 'model.embed_tokens.weight': mode mxfp4 takes bits 4 and "
       "group_size 32; config.json says bits 4 and group_size 64"},
      {"no_quantization_entry",
       [](model_files& m) {
         m.config.erase("quantization");
         m.config.erase("quantization_config");
       },
       nullptr,
       "model-00001-of-00002.safetensors: tensor 'model.embed_tokens.scales': the layer is quantized but config.json "
       "has no 'quantization' entry"},
      {"override_false_but_quantized",
       [](model_files& m) { m.config["quantization"]["model.embed_tokens"] = false; }, nullptr,
       "model-00001-of-00002.safetensors: tensor 'model.embed_tokens.scales': config.json marks 'model.embed_tokens' "
       "as not quantized (false), but it has scales"},
      {"tensor_not_in_index",
       [](model_files& m) {
         m.shards[0].push_back({{"extra", "U8", {1}}, {7}});
       },
       [](const fs::path& dir) {
         json index = json::parse(read_text(dir / "model.safetensors.index.json"));
         index["weight_map"].erase("extra");
         write_text(dir / "model.safetensors.index.json", index.dump());
       },
       "model-00001-of-00002.safetensors: tensor 'extra': is not listed in model.safetensors.index.json"},
  };
}

class ConvertRefuses : public ::testing::TestWithParam<bad_input> {};

TEST_P(ConvertRefuses, WithAClearMessageAndNoOutputFile) {
  const bad_input& bad = GetParam();
  temp_dir tmp;
  model_files m = synthetic_model();
  if (bad.change_model) bad.change_model(m);
  m.write(tmp.path / "model");
  if (bad.change_files) bad.change_files(tmp.path / "model");

  // A new output directory is not left behind ...
  const auto r = run_cli({(tmp.path / "model").string(), (tmp.path / "new").string()}, tmp.path);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(bad.message.found_in(r.err)) << "stderr: " << r.err << "wanted: lowbit-convert: " << bad.message.parts[0];
  EXPECT_FALSE(fs::exists(tmp.path / "new"));

  // ... and an existing one keeps what it had and gains nothing.
  fs::create_directories(tmp.path / "existing");
  write_text(tmp.path / "existing" / "notes.txt", "mine");
  EXPECT_EQ(run_cli({(tmp.path / "model").string(), (tmp.path / "existing").string()}, tmp.path).status, 1);
  EXPECT_EQ(files_in(tmp.path / "existing"), std::vector<std::string>{"notes.txt"});
}

INSTANTIATE_TEST_SUITE_P(BadInput, ConvertRefuses, ::testing::ValuesIn(bad_inputs()),
                         [](const auto& info) { return info.param.name; });

// A run stopped in the middle (SIGINT in the program sets the same flag) removes what it wrote.
TEST(Convert, CancelledRunLeavesNoFile) {
  temp_dir tmp;
  synthetic_model().write(tmp.path / "model");
  fs::create_directories(tmp.path / "existing");
  write_text(tmp.path / "existing" / "notes.txt", "mine");
  for (const char* out : {"new", "existing"}) {
    std::atomic<bool> cancel{false};
    std::size_t calls = 0;
    lowbit_tools::convert_options options;
    options.model_dir = (tmp.path / "model").string();
    options.out_dir = (tmp.path / out).string();
    options.cancel = &cancel;
    options.on_progress = [&](const lowbit_tools::convert_progress& p) {
      if (++calls == 7) {
        EXPECT_EQ(p.file, shard_names[1]);  // the first shard is complete by now
        EXPECT_TRUE(fs::exists(tmp.path / out / (std::string(shard_names[0]) + ".tmp")));
        cancel = true;
      }
    };
    try {
      lowbit_tools::convert_model(options);
      ADD_FAILURE() << "not cancelled";
    } catch (const lowbit_tools::convert_error& e) {
      EXPECT_STREQ(e.what(), "interrupted; nothing was written");
    }
  }
  EXPECT_FALSE(fs::exists(tmp.path / "new"));
  EXPECT_EQ(files_in(tmp.path / "existing"), std::vector<std::string>{"notes.txt"});
}

TEST(Convert, RefusesToWriteIntoTheModelDirectory) {
  temp_dir tmp;
  synthetic_model().write(tmp.path / "model");
  const auto before = files_in(tmp.path / "model");
  EXPECT_THROW(convert(tmp.path / "model", tmp.path / "model" / "." ), lowbit_tools::convert_error);
  EXPECT_EQ(files_in(tmp.path / "model"), before);
}

// ---- the safetensors writer -----------------------------------------------------------------------------------

TEST(SafetensorsWriter, RoundTripsAndAlignsTheDataBlock) {
  temp_dir tmp;
  const auto path = (tmp.path / "t.safetensors").string();
  const std::vector<std::uint16_t> a = {1, 2, 3};
  const std::vector<float> b = {0.5f, -1.0f};
  lowbit_tools::write_file(path, {{{"a", "F16", {3}}, bytes_of(a)}, {{"b", "F32", {1, 2}}, bytes_of(b)}},
                           {{"format", "mlx"}});
  const auto f = lowbit_tools::file::open(path);
  EXPECT_EQ(f.header_bytes() % 8, 0u);
  EXPECT_EQ(f.metadata().at("format"), "mlx");
  EXPECT_EQ(f.at("a").copy_as<std::uint16_t>(), a);
  EXPECT_EQ(f.at("b").copy_as<float>(), b);
  EXPECT_EQ(f.at("b").shape, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(f.at("b").offset, 6u);
}

TEST(SafetensorsWriter, RefusesTooManyOrTooFewBytes) {
  temp_dir tmp;
  lowbit_tools::writer w((tmp.path / "t.safetensors").string(), {{"a", "U8", {4}}});
  const std::uint8_t bytes[5] = {};
  w.write(bytes, 3);
  EXPECT_THROW(w.write(bytes, 2), lowbit_tools::io_error);
  EXPECT_THROW(w.finish(), lowbit_tools::io_error);
  EXPECT_THROW(lowbit_tools::make_header({{"a", "U8", {1}}, {"a", "U8", {1}}}, {}), lowbit_tools::format_error);
  EXPECT_THROW(lowbit_tools::make_header({{"a", "X9", {1}}}, {}), lowbit_tools::format_error);
}

}  // namespace
