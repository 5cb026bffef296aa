# cmake -DPREFIX=... -DSOURCE_DIR=... -DBUILD=... -DGENERATOR=... -DCXX=... -DCXX_FLAGS=...
#       -DLINKER_FLAGS=... -DBUILD_TYPE=... -DINCLUDEDIR=... -P build_example.cmake
# Configures and builds examples/train_mnist as a project of its own in a
# fresh folder, with PREFIX as the only place to find mnistlab, then checks
# that it really used PREFIX: the package's folder, and the compile command's
# include folders (the source tree's include/ and src/ must not be there).
file(REMOVE_RECURSE ${BUILD})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/train_mnist -B ${BUILD} -G ${GENERATOR}
          -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
          -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_CXX_FLAGS=${CXX_FLAGS} -DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}
          -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
  COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD} COMMAND_ERROR_IS_FATAL ANY)

file(STRINGS ${BUILD}/CMakeCache.txt package_dir REGEX "^mnistlab_DIR:")
string(REGEX REPLACE "^[^=]*=" "" package_dir "${package_dir}")
cmake_path(IS_PREFIX PREFIX "${package_dir}" NORMALIZE under_prefix)
if(NOT under_prefix)
  message(FATAL_ERROR "find_package(mnistlab) found ${package_dir}, not the package installed in ${PREFIX}")
endif()

file(READ ${BUILD}/compile_commands.json commands)
foreach(tree_dir ${SOURCE_DIR}/include ${SOURCE_DIR}/src)
  string(FIND "${commands}" "${tree_dir}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the example's compile command reads the source tree's ${tree_dir}:\n${commands}")
  endif()
endforeach()
string(FIND "${commands}" "${PREFIX}/${INCLUDEDIR}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the example's compile command does not read ${PREFIX}/${INCLUDEDIR}:\n${commands}")
endif()
message(STATUS "train_mnist built against ${package_dir} only")
