# Third-party packages for lowbit's tests, tools and benchmarks — all from Debian, nothing downloaded.
# The library itself needs none of them.
#
# When cross-compiling (e.g. aarch64 under qemu), the host's CMake packages describe host libraries, so
# GoogleTest is built from the sources Debian's googletest package ships, and the header-only
# nlohmann/json is taken from the host's include directory through a directory of its own (putting
# /usr/include itself on a cross compiler's path would mix in the host's C library headers).

set(LOWBIT_GTEST_SOURCE_DIR /usr/src/googletest CACHE PATH "GoogleTest sources used when cross-compiling")

macro(lowbit_find_gtest)
  if(NOT TARGET GTest::gtest_main)
    if(CMAKE_CROSSCOMPILING)
      set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
      set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
      add_subdirectory(${LOWBIT_GTEST_SOURCE_DIR} ${CMAKE_BINARY_DIR}/_deps/googletest EXCLUDE_FROM_ALL)
      add_library(GTest::gtest ALIAS gtest)
      add_library(GTest::gtest_main ALIAS gtest_main)
    else()
      find_package(GTest REQUIRED)
    endif()
  endif()
endmacro()

macro(lowbit_find_json)
  if(NOT TARGET nlohmann_json::nlohmann_json)
    if(NOT CMAKE_CROSSCOMPILING)
      find_package(nlohmann_json 3 CONFIG QUIET)
    endif()
    if(NOT TARGET nlohmann_json::nlohmann_json)
      find_path(LOWBIT_JSON_INCLUDE_DIR nlohmann/json.hpp PATHS /usr/include /usr/local/include
                NO_CMAKE_FIND_ROOT_PATH)
      if(NOT LOWBIT_JSON_INCLUDE_DIR)
        message(FATAL_ERROR "nlohmann/json not found: apt-get install nlohmann-json3-dev")
      endif()
      set(_lowbit_json_dir ${CMAKE_BINARY_DIR}/_deps/nlohmann_json/include)
      file(MAKE_DIRECTORY ${_lowbit_json_dir})
      file(CREATE_LINK ${LOWBIT_JSON_INCLUDE_DIR}/nlohmann ${_lowbit_json_dir}/nlohmann SYMBOLIC)
      add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED GLOBAL)
      set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${_lowbit_json_dir})
    endif()
  endif()
endmacro()

# Eigen 3.4 (header-only) for the opt-in adapter lowbit::eigen: through its CMake package (Debian's
# libeigen3-dev); when lowbit itself is cross-compiled, from the host's headers through a directory of its
# own, like nlohmann/json above. Quiet: without Eigen there is simply no lowbit::eigen.
macro(lowbit_find_eigen)
  if(NOT TARGET Eigen3::Eigen)
    if(NOT CMAKE_CROSSCOMPILING)
      find_package(Eigen3 3.4 CONFIG QUIET)
    elseif(LOWBIT_TOP_LEVEL)
      find_path(LOWBIT_EIGEN_INCLUDE_DIR Eigen/Core PATHS /usr/include/eigen3 /usr/local/include/eigen3
                NO_CMAKE_FIND_ROOT_PATH)
      if(LOWBIT_EIGEN_INCLUDE_DIR)
        set(_lowbit_eigen_dir ${CMAKE_BINARY_DIR}/_deps/eigen3/include)
        file(MAKE_DIRECTORY ${_lowbit_eigen_dir})
        file(CREATE_LINK ${LOWBIT_EIGEN_INCLUDE_DIR}/Eigen ${_lowbit_eigen_dir}/Eigen SYMBOLIC)
        add_library(Eigen3::Eigen INTERFACE IMPORTED GLOBAL)
        set_target_properties(Eigen3::Eigen PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${_lowbit_eigen_dir})
      endif()
    endif()
  endif()
endmacro()
