# cmake -DBUILD_DIR=... -DPREFIX=... -DINCLUDEDIR=... -DLIBDIR=... -DBINDIR=... -P install.cmake
# A fresh prefix each time, so a header or file the tree no longer has cannot
# linger there and let the example build against it.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX} COMMAND_ERROR_IS_FATAL ANY)
foreach(file ${INCLUDEDIR}/mnistlab/model.h ${LIBDIR}/libmnistlab.a ${BINDIR}/mnistlab
             ${LIBDIR}/cmake/mnistlab/mnistlabConfig.cmake ${LIBDIR}/cmake/mnistlab/mnistlabConfigVersion.cmake
             ${LIBDIR}/cmake/mnistlab/mnistlabTargets.cmake)
  if(NOT EXISTS ${PREFIX}/${file})
    message(FATAL_ERROR "cmake --install did not install ${PREFIX}/${file}")
  endif()
endforeach()
