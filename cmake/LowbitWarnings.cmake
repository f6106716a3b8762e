# lowbit_warnings(target): the warning flags lowbit's own targets build with; -Werror with LOWBIT_WERROR.
function(lowbit_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic $<$<BOOL:${LOWBIT_WERROR}>:-Werror>)
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${LOWBIT_WERROR}>:/WX>)
  endif()
endfunction()
