# Run after each build of the test program (cmake -P): lists its GoogleTest
# tests and writes the CTest tests that run them, in two tiers.
#
# Inputs (-D): TEST_EXECUTABLE, OUTPUT (the CTest file to write), SLOW (gtest
# patterns, ';'-separated: the slow tier, one CTest test each), PER_TEST (suites
# whose tests get a CTest test each: seconds each), QUICK_TIMEOUT, SLOW_TIMEOUT.
#
# The quick tier runs a whole suite in one process: starting the test program
# costs ~0.7 s (LibTorch's libraries and operator registration), which over
# ~270 tests was a third of the tier's time.
cmake_minimum_required(VERSION 3.18)
execute_process(COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
                OUTPUT_VARIABLE listing RESULT_VARIABLE status TIMEOUT 120)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${status}):\n${listing}")
endif()

# A gtest pattern ('*' and '?' wildcards) as a whole-string regular expression.
function(pattern_regex pattern out)
  string(REGEX REPLACE "([][+.^$(){}|\\\\])" "\\\\\\1" regex "${pattern}")
  string(REPLACE "*" ".*" regex "${regex}")
  string(REPLACE "?" "." regex "${regex}")
  set(${out} "^${regex}$" PARENT_SCOPE)
endfunction()

set(slow_regexes)
foreach(pattern IN LISTS SLOW)
  pattern_regex("${pattern}" regex)
  list(APPEND slow_regexes "${regex}")
endforeach()

# Appends to `content` a CTest test NAME running the tests of gtest FILTER.
macro(add_ctest name filter label timeout)
  string(APPEND content "add_test([==[${name}]==] [==[${TEST_EXECUTABLE}]==] [==[--gtest_filter=${filter}]==])\n"
                        "set_tests_properties([==[${name}]==] PROPERTIES LABELS ${label} TIMEOUT ${timeout})\n")
endmacro()

string(REPLACE ";" "\\;" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(suite "")
set(suites)
set(content "# Written by cmake/TandemTestList.cmake after each build of the test program.\n")
foreach(line IN LISTS lines)
  string(REGEX REPLACE " *#.*" "" line "${line}")  # "  # GetParam() = ..." comments
  if(line STREQUAL "" OR line MATCHES "^Running main")
    continue()
  endif()
  if(NOT line MATCHES "^ ")
    string(REGEX REPLACE "\\.$" "" suite "${line}")
    continue()
  endif()
  string(STRIP "${line}" test)
  set(name "${suite}.${test}")
  set(slow FALSE)
  foreach(regex IN LISTS slow_regexes)
    if(name MATCHES "${regex}")
      set(slow TRUE)
    endif()
  endforeach()
  if(slow)
    add_ctest("${name}" "${name}" slow ${SLOW_TIMEOUT})
  elseif(suite IN_LIST PER_TEST)
    add_ctest("${name}" "${name}" quick ${QUICK_TIMEOUT})
  else()
    string(MAKE_C_IDENTIFIER "${suite}" key)
    if(NOT DEFINED tests_${key})
      list(APPEND suites "${suite}")
      set(tests_${key} "${name}")
    else()
      set(tests_${key} "${tests_${key}}:${name}")
    endif()
  endif()
endforeach()
foreach(suite IN LISTS suites)
  string(MAKE_C_IDENTIFIER "${suite}" key)
  add_ctest("${suite}" "${tests_${key}}" quick ${QUICK_TIMEOUT})
endforeach()
file(WRITE "${OUTPUT}" "${content}")
