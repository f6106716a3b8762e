// lowbit-convert: an MLX quantized model directory to dense safetensors (see tools/convert.hpp and --help).
//
//   lowbit-convert MODEL_DIR OUT_DIR [--dtype float16|bfloat16|float32] [--threads N]
//
// Exit status: 0 on success, 1 when the model is refused or the conversion fails (the message names the file
// and the tensor; OUT_DIR then holds no new file), 2 for a bad command line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <lowbit/lowbit.hpp>

#include "convert.hpp"

#if __has_include(<unistd.h>)
#include <unistd.h>
#define LOWBIT_CONVERT_HAVE_ISATTY 1
#endif

namespace {

const char* const usage_text =
    "usage: lowbit-convert MODEL_DIR OUT_DIR [--dtype float16|bfloat16|float32] [--threads N]\n"
    "\n"
    "Converts an MLX quantized model directory (config.json with \"quantization\", model.safetensors or\n"
    "shards with model.safetensors.index.json) into dense safetensors in OUT_DIR: the same shards and\n"
    "index, every quantized layer dequantized bit for bit as MLX does, scales and biases dropped,\n"
    "config.json without its quantization entries, other files copied.\n"
    "\n"
    "  --dtype T     float16, bfloat16 or float32 for the dequantized layers (default: each layer's\n"
    "                scales dtype, as MLX returns); other tensors are copied unchanged\n"
    "  --threads N   threads for dequantizing (default: all hardware threads, %u here)\n"
    "  --help        this text\n";

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted.store(true); }

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

std::string human_seconds(double seconds) {
  char text[32];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.0fs", seconds);
  } else {
    std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  }
  return text;
}

// A one-line progress bar on a terminal, redrawn at most ten times a second.
class progress_bar {
 public:
  using clock = std::chrono::steady_clock;
  explicit progress_bar(bool enabled) : enabled_(enabled), start_(clock::now()) {}

  void update(const lowbit_tools::convert_progress& p) {
    if (!enabled_) return;
    const auto now = clock::now();
    if (p.bytes_done != p.bytes_total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double fraction = p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0;
    const double rate = seconds > 0 ? static_cast<double>(p.bytes_done) / seconds : 0.0;
    const int width = 30, filled = static_cast<int>(fraction * width);
    const std::string bar = std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(width - filled), '.');
    const std::string eta = rate > 0 ? human_seconds(static_cast<double>(p.bytes_total - p.bytes_done) / rate) : "?";
    std::fprintf(stderr, "\r[%s] %3.0f%%  %s / %s  %s/s  ETA %s  %s\033[K", bar.c_str(), fraction * 100.0,
                 human_bytes(static_cast<double>(p.bytes_done)).c_str(),
                 human_bytes(static_cast<double>(p.bytes_total)).c_str(), human_bytes(rate).c_str(), eta.c_str(),
                 p.file.c_str());
    drawn_ = true;
  }
  void finish() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }
  double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  bool enabled_, drawn_ = false;
  clock::time_point start_, last_;
};

int usage_error(const std::string& what) {
  std::fprintf(stderr, "lowbit-convert: %s\n", what.c_str());
  std::fprintf(stderr, usage_text, std::thread::hardware_concurrency());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  lowbit_tools::convert_options options;
  options.threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (arg.size() > flag.size() && arg.compare(0, flag.size() + 1, flag + "=") == 0) return arg.substr(flag.size() + 1);
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--help" || arg == "-h") {
        std::printf(usage_text, std::thread::hardware_concurrency());
        return 0;
      } else if (arg == "--dtype" || arg.rfind("--dtype=", 0) == 0) {
        options.dtype = value("--dtype");
        if (lowbit_tools::convert_detail::dtype_of_name(options.dtype).empty()) {
          return usage_error("--dtype " + options.dtype + " is not one of float16, bfloat16, float32");
        }
      } else if (arg == "--threads" || arg.rfind("--threads=", 0) == 0) {
        const std::string n = value("--threads");
        char* end = nullptr;
        const long threads = std::strtol(n.c_str(), &end, 10);
        if (n.empty() || *end != '\0' || threads < 1 || threads > 1024) {
          return usage_error("--threads " + n + " is not a number from 1 to 1024");
        }
        options.threads = static_cast<unsigned>(threads);
      } else if (!arg.empty() && arg[0] == '-') {
        return usage_error("unknown option " + arg);
      } else {
        positional.push_back(arg);
      }
    } catch (const std::invalid_argument& e) {
      return usage_error(e.what());
    }
  }
  if (positional.size() != 2) return usage_error("expected MODEL_DIR and OUT_DIR");
  options.model_dir = positional[0];
  options.out_dir = positional[1];

#ifdef LOWBIT_CONVERT_HAVE_ISATTY
  const bool terminal = isatty(STDERR_FILENO) != 0;
#else
  const bool terminal = false;
#endif
  progress_bar bar(terminal);
  options.on_progress = [&](const lowbit_tools::convert_progress& p) { bar.update(p); };
  options.cancel = &g_interrupted;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  try {
    const lowbit_tools::convert_summary s = lowbit_tools::convert_model(options);
    bar.finish();
    for (const std::string& w : s.warnings) std::fprintf(stderr, "lowbit-convert: warning: %s\n", w.c_str());
    const double seconds = bar.seconds();
    std::fprintf(stderr,
                 "lowbit-convert: %s -> %s: %zu safetensors file%s, %zu tensors (%zu dequantized to %s), "
                 "%zu other file%s copied; %s in %.2fs (%s/s), %u thread%s, lowbit backend %s\n",
                 options.model_dir.c_str(), options.out_dir.c_str(), s.shards, s.shards == 1 ? "" : "s", s.tensors,
                 s.dequantized, s.dtype.c_str(), s.copied_files, s.copied_files == 1 ? "" : "s",
                 human_bytes(static_cast<double>(s.bytes_written)).c_str(), seconds,
                 human_bytes(seconds > 0 ? static_cast<double>(s.bytes_written) / seconds : 0.0).c_str(),
                 options.threads, options.threads == 1 ? "" : "s", lowbit::backend_name());
    return 0;
  } catch (const std::exception& e) {
    bar.finish();
    std::fprintf(stderr, "lowbit-convert: %s\n", e.what());
    return 1;
  }
}
