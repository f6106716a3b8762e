// Must not compile: a forced backend the compiler does not target is an error, never a silent fallback.
// Built with LOWBIT_FORCE_NEON on x86 and LOWBIT_FORCE_AVX2 on other targets.
#include <lowbit/lowbit.hpp>

const char* name() { return lowbit::backend_name(); }
