# Warning flags for the project's own targets (generated protobuf code is exempt).
function(nicswitch_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
                         -Wno-missing-field-initializers)
  if(NICSWITCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# nicswitch_library(<name> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...] [FUZZ])
# One static library per source dir. With FUZZ and NICSWITCH_FUZZ=ON a second copy,
# <name>_fuzz, is compiled with coverage instrumentation and sanitizers for libFuzzer targets.
function(nicswitch_library name)
  cmake_parse_arguments(ARG "FUZZ" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  nicswitch_warnings(${name})
  if(ARG_FUZZ AND NICSWITCH_FUZZ)
    add_library(${name}_fuzz STATIC ${ARG_SOURCES})
    target_include_directories(${name}_fuzz PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name}_fuzz PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
    target_compile_options(${name}_fuzz PRIVATE ${NICSWITCH_FUZZ_FLAGS})
    nicswitch_warnings(${name}_fuzz)
  endif()
endfunction()

# Adds every immediate subdirectory of the current source dir that has a CMakeLists.txt, so that
# independent components register themselves without editing a shared list.
function(nicswitch_add_subdirectories)
  file(GLOB children LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${child} AND EXISTS ${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
