# cmake -DCXX=... -DPREFIX=... -DINCLUDEDIR=... -DWORK=... -P compile_headers.cmake
# Every installed header compiles on its own, included as a user includes it,
# with only the prefix's include folder: none reaches for src/ or for a
# header the package does not install.
file(GLOB headers RELATIVE ${PREFIX}/${INCLUDEDIR} ${PREFIX}/${INCLUDEDIR}/mnistlab/*.h)
if(NOT headers)
  message(FATAL_ERROR "no headers in ${PREFIX}/${INCLUDEDIR}/mnistlab")
endif()
file(MAKE_DIRECTORY ${WORK})
foreach(header ${headers})
  string(MAKE_C_IDENTIFIER ${header} name)
  file(WRITE ${WORK}/${name}.cpp "#include <${header}>\n")
  execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -Wall -Wextra -I${PREFIX}/${INCLUDEDIR} ${WORK}/${name}.cpp
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "<${header}> does not compile on its own")
  endif()
endforeach()
list(LENGTH headers count)
message(STATUS "${count} installed headers compile on their own")
