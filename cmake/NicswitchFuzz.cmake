# Fuzz targets. Each defines LLVMFuzzerTestOneInput. With NICSWITCH_FUZZ=ON (clang) it is a
# libFuzzer binary with ASan+UBSan, linked against the instrumented <lib>_fuzz copies, and its
# ctest entry fuzzes for NICSWITCH_FUZZ_SECONDS starting from the seed corpus. Otherwise it is
# linked with a replay driver and its ctest entry replays the seed corpus (a regression test).
set(NICSWITCH_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz target runs inside ctest")
set(NICSWITCH_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)

# nicswitch_fuzz_target(<name> SOURCES ... LIBS <lib>... CORPUS <dir>)
function(nicswitch_fuzz_target name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  nicswitch_warnings(${name})
  if(NICSWITCH_FUZZ)
    set(libs)
    foreach(lib ${ARG_LIBS})
      if(TARGET ${lib}_fuzz)
        list(APPEND libs ${lib}_fuzz)
      else()
        list(APPEND libs ${lib})
      endif()
    endforeach()
    target_compile_options(${name} PRIVATE ${NICSWITCH_FUZZ_FLAGS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE ${libs})
    if(BUILD_TESTING OR NICSWITCH_BUILD_TESTS)
      set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
      add_test(NAME ${name}
               COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                       ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:${name}> -DWORK=${work}
                       -DSEEDS=${ARG_CORPUS} -DSECONDS=${NICSWITCH_FUZZ_SECONDS}
                       -P ${PROJECT_SOURCE_DIR}/cmake/RunFuzzer.cmake)
      set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 300)
    endif()
  else()
    target_link_libraries(${name} PRIVATE ${ARG_LIBS} nicswitch_fuzz_replay)
    if(BUILD_TESTING OR NICSWITCH_BUILD_TESTS)
      add_test(NAME ${name} COMMAND ${name} ${ARG_CORPUS})
      set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
    endif()
  endif()
endfunction()
