# Cross-compile lowbit for aarch64 Linux with Debian's GNU cross compiler (g++-aarch64-linux-gnu) and run
# the tests under qemu-user:
#   cmake -S . -B build/arm -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DCMAKE_CXX_FLAGS=-march=armv8-a -DLOWBIT_QEMU_CPU=cortex-a53
# LOWBIT_QEMU_CPU picks the emulated core: cortex-a53 has no fp16/bf16 (a baseline build that slips in
# such an instruction dies with SIGILL), max has them all. LOWBIT_CROSS_CXX picks the compiler: e.g.
# clang++-19, which is then given --target=aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(LOWBIT_CROSS_CXX "aarch64-linux-gnu-g++" CACHE STRING "C++ compiler for aarch64")
set(CMAKE_CXX_COMPILER ${LOWBIT_CROSS_CXX})
if(LOWBIT_CROSS_CXX MATCHES "clang")
  set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
endif()
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(LOWBIT_QEMU_CPU "max" CACHE STRING "CPU model qemu-aarch64 emulates when running tests")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu ${LOWBIT_QEMU_CPU} -L /usr/aarch64-linux-gnu)
